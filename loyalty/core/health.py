"""Is this deployment able to do its work? Answered quickly, cheaply and without detail.

A public endpoint must not become a way to tie the site up, nor a way to learn its
insides, so the checks are built around three bounds:

- **time**: every probe runs in a small pool of threads of its own and a run waits for
  them at most `CHECK_TIMEOUT_SECONDS`; a probe still going then is reported as timed
  out, and a later run waits for that same probe again instead of starting a second one,
  so a hung service never piles up threads;
- **frequency**: a run's report is shared by every thread of the process for a while
  (`CHEAP_TTL_SECONDS`, `DEEP_TTL_SECONDS`): when it is stale, one caller runs the checks
  again and the others answer the previous report meanwhile ("stale while one
  refreshes"); only while there is no report yet do they wait for the first one;
- **detail**: a report names the checks that failed and nothing else; what went wrong
  (the exception, which may carry a host, a port or a path) goes to the log only.
"""

import contextlib
import contextvars
import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Generic, TypeVar

from celery import current_app
from celery.result import AsyncResult
from django.core.cache import cache
from django.db import connection
from kombu import Connection

from loyalty.core.tasks import ping

log = logging.getLogger(__name__)

# The whole run: what has not answered by then is reported as timed out.
CHECK_TIMEOUT_SECONDS = 2.0
# What a probe waits for on its own, below the run's bound: a probe gives up (and its
# thread is free) before the run stops waiting for it. The database has no such bound.
PROBE_TIMEOUT_SECONDS = 1.75
CONNECT_TIMEOUT_SECONDS = 1
RESULT_POLL_SECONDS = 0.05
CHEAP_TTL_SECONDS = 1.0
DEEP_TTL_SECONDS = 10.0

T = TypeVar("T")


@dataclass(frozen=True)
class Check:
    ok: bool
    timed_out: bool
    ms: float

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "timed_out": self.timed_out, "ms": round(self.ms, 1)}


@dataclass(frozen=True)
class Report:
    checks: dict[str, Check]

    @property
    def healthy(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def as_dict(self) -> dict[str, object]:
        """What `/healthz` answers: the status, the names of the failed checks, each check."""
        return {
            "status": "ok" if self.healthy else "unavailable",
            "failed": [name for name, check in self.checks.items() if not check.ok],
            "checks": {name: check.as_dict() for name, check in self.checks.items()},
        }


# --- The probes: each raises when its service does not do its work ----------------------


def _database() -> None:
    """On a connection of the probe's own, closed afterwards: a server that accepts no new
    connection (its `max_connections` reached) fails the check too."""
    try:
        connection.ensure_connection()
        if not connection.is_usable():
            raise ConnectionError("the database connection does not answer")
    finally:
        connection.close()


def _broker_connection() -> Connection:
    """Redis takes its timeouts as transport options, RabbitMQ as the connection's."""
    timeouts = {"socket_connect_timeout": CONNECT_TIMEOUT_SECONDS, "socket_timeout": CONNECT_TIMEOUT_SECONDS}
    return current_app.connection_for_write(
        transport_options=timeouts, connect_timeout=CONNECT_TIMEOUT_SECONDS
    )


def _broker() -> None:
    with _broker_connection() as conn:
        conn.ensure_connection(max_retries=0, timeout=CONNECT_TIMEOUT_SECONDS)


def _cache() -> None:
    """A key of this probe's own: another process checking at the same time cannot
    overwrite it. It expires by itself (10 s), so a probe costs two round trips, not three."""
    token = secrets.token_hex(8)
    key = f"healthz:{token}"
    cache.set(key, token, timeout=10)
    if cache.get(key) != token:
        raise RuntimeError("the cache did not keep a value")


def _worker() -> None:
    """A `core.ping` a worker must echo; it expires with the run, so a worker that comes
    back later does not spend its time answering old probes."""
    gives_up = time.monotonic() + PROBE_TIMEOUT_SECONDS
    token = secrets.token_hex(8)
    with _broker_connection() as conn:
        result = ping.apply_async(
            args=(token,), producer=conn.Producer(), expires=CHECK_TIMEOUT_SECONDS, retry=False
        )
    try:
        answer = _answer(result, gives_up)
    finally:
        # Unsubscribes from the result on Redis; the file backend has nothing to remove
        # from a ping nobody answered, and says so.
        with contextlib.suppress(FileNotFoundError):
            result.forget()
    if answer != token:
        raise RuntimeError("worker answered with the wrong token")


def _answer(result: AsyncResult, gives_up: float) -> object:
    """Polled, rather than `result.get(timeout=…)`: the Redis result backend checks that
    timeout once a second only, so it would keep the probe's thread up to a second late."""
    while not result.ready():
        if time.monotonic() >= gives_up:
            raise TimeoutError("no worker echoed the ping")
        time.sleep(RESULT_POLL_SECONDS)
    return result.result


PROBES: dict[str, Callable[[], None]] = {
    "database": _database,
    "broker": _broker,
    "cache": _cache,
    "worker": _worker,
}
CHEAP_CHECKS = ("database", "broker", "cache")
DEEP_CHECKS = (*CHEAP_CHECKS, "worker")


# --- Running them within the time bound -------------------------------------------------

_pool = ThreadPoolExecutor(max_workers=len(PROBES), thread_name_prefix="health")
_in_flight: dict[str, Future[Check]] = {}
_in_flight_lock = threading.Lock()


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _timed(name: str) -> Check:
    started = time.perf_counter()
    try:
        PROBES[name]()
    except Exception as exc:  # a health check reports failures, it does not raise them
        log.warning("health check %s failed: %s: %s", name, type(exc).__name__, exc)
        return Check(ok=False, timed_out=isinstance(exc, TimeoutError), ms=_ms_since(started))
    return Check(ok=True, timed_out=False, ms=_ms_since(started))


def _probe(name: str) -> Future[Check]:
    """The probe of `name` still running from an earlier run, or a new one. It runs in the
    caller's context, so its log lines carry the request id of the probe that started it."""
    with _in_flight_lock:
        running = _in_flight.get(name)
        if running is None or running.done():
            running = _in_flight[name] = _pool.submit(contextvars.copy_context().run, _timed, name)
        return running


def run_checks(names: tuple[str, ...]) -> Report:
    """Run the named checks at once; within `CHECK_TIMEOUT_SECONDS`, whatever they do."""
    started = time.perf_counter()
    running = {name: _probe(name) for name in names}
    wait(running.values(), timeout=CHECK_TIMEOUT_SECONDS)
    checks = {}
    for name, future in running.items():
        if future.done():
            checks[name] = future.result()
        else:
            log.warning("health check %s did not answer within %s s", name, CHECK_TIMEOUT_SECONDS)
            checks[name] = Check(ok=False, timed_out=True, ms=_ms_since(started))
    return Report(checks)


# --- Sharing a report between the threads of the process --------------------------------


class SharedResult(Generic[T]):
    """`compute()`'s result, shared for `ttl` seconds; see the module's docstring.

    The age is read on the wall clock (so tests can travel in time), and a result from
    the future counts as stale, so a clock set back never keeps an old report alive.
    """

    def __init__(self, compute: Callable[[], T], ttl: float) -> None:
        self._compute = compute
        self._ttl = ttl
        self._refreshing = threading.Lock()
        self._latest: tuple[T, float] | None = None  # one attribute: read and written atomically

    def _fresh(self, latest: tuple[T, float]) -> bool:
        return latest[1] <= time.time() < latest[1] + self._ttl

    def get(self) -> T:
        latest = self._latest
        if latest is None:
            with self._refreshing:
                return self._refreshed()
        if self._fresh(latest) or not self._refreshing.acquire(blocking=False):
            return latest[0]
        try:
            return self._refreshed()
        finally:
            self._refreshing.release()

    def _refreshed(self) -> T:
        """Under the lock: the latest result, computed again unless another caller just did."""
        latest = self._latest
        if latest is None or not self._fresh(latest):
            latest = self._latest = (self._compute(), time.time())
        return latest[0]

    def forget(self) -> None:
        self._latest = None


_cheap = SharedResult(lambda: run_checks(CHEAP_CHECKS), ttl=CHEAP_TTL_SECONDS)
_deep = SharedResult(lambda: run_checks(DEEP_CHECKS), ttl=DEEP_TTL_SECONDS)


def health_report(*, deep: bool = False) -> Report:
    """The cheap checks (database, broker, cache), or with `deep` a worker's round trip
    too, from the report shared by the process's threads."""
    return (_deep if deep else _cheap).get()


def health_reports_forget() -> None:
    """Drop the shared reports, so the next call checks again: after the configuration
    changed under a running process, as tests change it."""
    _cheap.forget()
    _deep.forget()
