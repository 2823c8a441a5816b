"""The checks behind /healthz: what each catches, within what time, how often they run, and
that a public answer names what failed and says nothing more."""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from celery.signals import before_task_publish
from django.db import connections
from django.test import Client

from config.celery import app
from loyalty.core.health import CHECK_TIMEOUT_SECONDS, DEEP_TTL_SECONDS, health_reports_forget
from tests.conftest import ON_POSTGRES

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db

TOKEN = "a-health-token-for-these-tests"
CHECK_NAMES = {"database", "broker", "cache", "worker"}
# A port nothing listens on: connecting to it is refused at once.
CLOSED_PORT = 1


@pytest.fixture(autouse=True)
def _fresh_reports(settings: Any) -> Iterator[None]:
    """Each test checks for itself, never from a report an earlier test left shared."""
    settings.HEALTHZ_TOKEN = TOKEN
    health_reports_forget()
    yield
    health_reports_forget()


@pytest.fixture
def pings_sent() -> Iterator[list[str]]:
    """The `core.ping` tasks published while the test runs: one per worker check made."""
    sent: list[str] = []

    def count(sender: str | None = None, **_: Any) -> None:
        if sender == "core.ping":
            sent.append(sender)

    before_task_publish.connect(count, weak=False)
    yield sent
    before_task_publish.disconnect(count)


def _deep(client: Client) -> "TestResponse":
    """`/healthz?deep=1` as the prober asks for it."""
    return client.get("/healthz?deep=1", headers={"Authorization": f"Bearer {TOKEN}"})


def _says_nothing_but_names(body: dict[str, Any]) -> bool:
    """Every text in the answer is a status or a check's name: no exception, host or path."""
    texts = {body["status"], *body["failed"], *body["checks"]}
    fields = {field for check in body["checks"].values() for field in check}
    return texts <= {"ok", "unavailable", *CHECK_NAMES} and fields == {"ok", "timed_out", "ms"}


def test_healthz_checks_the_database_the_broker_and_the_cache(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failed"] == []
    assert set(body["checks"]) == {"database", "broker", "cache"}
    assert _says_nothing_but_names(body)


def test_healthz_is_503_naming_the_cache_when_the_cache_is_down(client: Client, settings: Any) -> None:
    # Django makes its cache clients again when CACHES changes: this one is a real Redis
    # client, of a server that is not there.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{CLOSED_PORT}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failed"] == ["cache"]


def test_healthz_is_503_naming_the_broker_and_not_its_address(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.conf, "broker_write_url", f"redis://127.0.0.1:{CLOSED_PORT}/0")

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["broker"]
    assert _says_nothing_but_names(body)
    assert b"127.0.0.1" not in response.content


def test_healthz_is_503_naming_the_database_and_not_its_address(
    client: Client, monkeypatch, tmp_path
) -> None:
    # The probe opens a connection of its own, from these settings; the test's connection
    # is already open and keeps working.
    database = connections.settings["default"]
    if ON_POSTGRES:
        monkeypatch.setitem(database, "HOST", "127.0.0.1")
        monkeypatch.setitem(database, "PORT", str(CLOSED_PORT))
        hidden = [b"127.0.0.1", f"port {CLOSED_PORT}".encode()]
    else:
        monkeypatch.setitem(database, "NAME", str(tmp_path / "missing" / "perkline.sqlite3"))
        hidden = [str(tmp_path).encode()]

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    assert _says_nothing_but_names(body)
    assert not any(text in response.content for text in hidden)


def test_deep_healthz_round_trips_through_a_real_worker(client: Client, celery_worker: None) -> None:
    response = _deep(client)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body["checks"]) == CHECK_NAMES
    assert body["checks"]["worker"]["ok"] is True
    assert _says_nothing_but_names(body)


def test_deep_healthz_without_a_worker_answers_within_its_timeout_naming_the_worker(client: Client) -> None:
    started = time.monotonic()
    response = _deep(client)
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["worker"]
    assert body["checks"]["worker"]["timed_out"] is True
    assert elapsed < CHECK_TIMEOUT_SECONDS + 0.5


def test_concurrent_deep_probes_without_a_worker_share_one_check(pings_sent: list[str]) -> None:
    """The finding: with the worker stopped, each of 8 probes held a thread for 15 s."""
    probes = 8
    start = threading.Barrier(probes)
    Client().get("/healthz")  # a served process: its views loaded, its probes' threads started

    def probe(_: int) -> tuple[int, float]:
        start.wait()
        started = time.monotonic()
        status = _deep(Client()).status_code
        return status, time.monotonic() - started

    with ThreadPoolExecutor(probes) as pool:
        answers = list(pool.map(probe, range(probes)))

    assert [status for status, _ in answers] == [503] * probes
    assert max(seconds for _, seconds in answers) < CHECK_TIMEOUT_SECONDS + 0.5
    assert len(pings_sent) == 1


def test_deep_healthz_answers_from_its_last_check_for_ten_seconds(
    client: Client, pings_sent: list[str]
) -> None:
    with time_machine.travel(time.time(), tick=True) as traveller:
        assert _deep(client).status_code == 503
        traveller.shift(DEEP_TTL_SECONDS - 1)
        started = time.monotonic()
        assert _deep(client).status_code == 503
        assert time.monotonic() - started < 0.5
        assert len(pings_sent) == 1

        traveller.shift(2)
        assert _deep(client).status_code == 503
        assert len(pings_sent) == 2
