"""/healthz?deep=1 is for the prober holding HEALTHZ_TOKEN, and for nobody while there is
none; the cache's Redis client gives up instead of holding a request's thread."""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from loyalty.core.health import health_reports_forget

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "a-health-token-for-these-tests"


@pytest.fixture(autouse=True)
def _fresh_reports() -> Iterator[None]:
    health_reports_forget()
    yield
    health_reports_forget()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-the-token", f"Basic {TOKEN}", f"Bearer {TOKEN}-and-more"],
)
def test_deep_healthz_refuses_a_missing_or_wrong_token(
    client: Client, settings: Any, authorization: str | None
) -> None:
    settings.HEALTHZ_TOKEN = TOKEN
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get("/healthz?deep=1", headers=headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["status"] == "refused"


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer "])
def test_deep_healthz_is_refused_to_everyone_while_there_is_no_token(
    client: Client, settings: Any, authorization: str | None
) -> None:
    settings.HEALTHZ_TOKEN = ""
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get("/healthz?deep=1", headers=headers)

    assert response.status_code == 403
    assert response.json()["status"] == "refused"


def test_plain_healthz_needs_no_token(client: Client, settings: Any) -> None:
    settings.HEALTHZ_TOKEN = TOKEN

    assert client.get("/healthz").status_code == 200


def test_a_silent_cache_redis_fails_a_cache_call_quickly() -> None:
    """The settings' own Redis cache, pointed at a server that accepts connections and
    never answers, as a hung Redis does: the call fails within its socket timeouts."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        script = (
            "import django, time; django.setup()\n"
            "from django.core.cache import cache\n"
            "started = time.monotonic()\n"
            "try:\n"
            "    cache.get('anything')\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, round(time.monotonic() - started, 1))\n"
        )
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1"}
        env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        try:
            ran = subprocess.run(  # noqa: S603 (our own interpreter and script)
                [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=15
            )
        except subprocess.TimeoutExpired:
            pytest.fail("a cache call on a silent Redis was still waiting after 15 s")

    assert ran.returncode == 0, ran.stderr
    error, seconds = ran.stdout.split()
    assert error == "TimeoutError"
    assert float(seconds) < 2
