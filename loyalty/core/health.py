"""Is this deployment able to do its work? Each check answers quickly and never raises."""

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from celery import current_app
from django.db import connection

from loyalty.core.tasks import ping

log = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 3
WORKER_TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str
    ms: float

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "detail": self.detail, "ms": round(self.ms, 1)}


def _timed(name: str, probe: Callable[[], str]) -> Check:
    started = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:  # a health check reports failures, it does not raise them
        log.warning("health check %s failed: %s", name, exc)
        return Check(False, f"{type(exc).__name__}: {exc}", _ms_since(started))
    return Check(True, detail, _ms_since(started))


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _database() -> str:
    connection.ensure_connection()
    if not connection.is_usable():
        raise ConnectionError("the database connection does not answer")
    return connection.vendor


def _broker() -> str:
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
        return str(conn.transport.driver_type)


def _worker() -> str:
    token = secrets.token_hex(8)
    result = ping.apply_async(args=(token,), expires=WORKER_TIMEOUT_SECONDS)
    try:
        answer = result.get(timeout=WORKER_TIMEOUT_SECONDS, disable_sync_subtasks=False)
    finally:
        result.forget()
    if answer != token:
        raise RuntimeError("worker answered with the wrong token")
    return "round trip completed"


def run_checks(*, deep: bool = False) -> dict[str, Check]:
    checks = {"database": _timed("database", _database), "broker": _timed("broker", _broker)}
    if deep:
        checks["worker"] = _timed("worker", _worker)
    return checks
