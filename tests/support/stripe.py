"""A real localstripe for the tests that talk to Stripe: one process a test session, on a
free loopback port, stopped when the session ends.

`localstripe` (the session's server) starts it; `stripe_on` points the settings at it for
one test (secret and publishable keys, the API base, the webhook secret). Nothing is mocked:
the services go through the official library over HTTP, and the helpers here do what a
browser and Stripe's own webhook sender do, the way they do it.

localstripe writes its whole store to /tmp/localstripe.pickle after every change and reads
it back unless started `--from-scratch`: it is started from scratch, so another process's
store never leaks into this one.
"""

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

SECRET_KEY = "sk_test_perkline"
PUBLISHABLE_KEY = "pk_test_perkline"
WEBHOOK_SECRET = "whsec_test_perkline"
START_TIMEOUT_SECONDS = 30
BINARY = Path(sys.executable).with_name("localstripe")


@dataclass(frozen=True)
class LocalStripe:
    url: str

    def post(self, path: str, data: dict[str, Any], *, publishable: bool = False) -> dict[str, Any]:
        """A form POST as Stripe.js (with the publishable key in the body) or a server makes it."""
        auth = None if publishable else (SECRET_KEY, "")
        body = {**data, "key": PUBLISHABLE_KEY} if publishable else data
        response = requests.post(f"{self.url}{path}", data=_form(body), auth=auth, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = requests.get(f"{self.url}{path}", params=params, auth=(SECRET_KEY, ""), timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def card_setup_confirm(self, client_secret: str, number: str = "4242424242424242") -> dict[str, Any]:
        """What Stripe.js's `confirmCardSetup` sends when the card form is submitted."""
        setup_intent = client_secret.split("_secret_")[0]
        return self.post(
            f"/v1/setup_intents/{setup_intent}/confirm",
            {
                "client_secret": client_secret,
                "payment_method_data": {
                    "type": "card",
                    "card": {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"},
                },
            },
            publishable=True,
        )

    def card_authenticate(self, client_secret: str, *, success: bool = True) -> dict[str, Any]:
        """The member passing (or failing) 3-D Secure: what `confirmCardPayment` does."""
        intent = client_secret.split("_secret_")[0]
        return self.post(
            f"/v1/payment_intents/{intent}/_authenticate",
            {"client_secret": client_secret, "success": "true" if success else "false"},
            publishable=True,
        )

    def card_attach(self, customer: str, number: str) -> str:
        """A card saved on `customer` by the server (test set-up: a card localstripe's
        SetupIntent could not save, such as one that always asks for 3-D Secure)."""
        card = {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"}
        made = self.post("/v1/payment_methods", {"type": "card", "card": card})
        self.post(f"/v1/payment_methods/{made['id']}/attach", {"customer": customer})
        return str(made["id"])

    def events(self, type: str | None = None) -> list[dict[str, Any]]:
        """Every event localstripe has made, oldest first (or those of one `type`)."""
        found: list[dict[str, Any]] = []
        page: dict[str, Any] = {"has_more": True, "data": []}
        while page["has_more"]:
            after = {"starting_after": page["data"][-1]["id"]} if page["data"] else {}
            page = self.get("/v1/events", **({"type": type} if type else {}), limit=100, **after)
            found += page["data"]
        return found

    def webhooks_to(self, url: str, *, events: list[str] | None = None) -> None:
        """Have localstripe deliver its events, signed with WEBHOOK_SECRET, to `url`."""
        body: dict[str, Any] = {"url": url, "secret": WEBHOOK_SECRET}
        if events:
            body["events"] = events
        requests.post(f"{self.url}/_config/webhooks/perkline", json=body, timeout=10).raise_for_status()


def signed(payload: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """The Stripe-Signature header Stripe (and localstripe) send with `payload`."""
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event_body(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2, sort_keys=True).encode()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _form(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Stripe's form encoding of nested parameters: card[number]=…"""
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            flat.update(_form(value, name))
        else:
            flat[name] = str(value)
    return flat


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"localstripe exited at start with {process.returncode}")
        try:
            requests.get(f"{url}/v1/customers", auth=(SECRET_KEY, ""), timeout=1).raise_for_status()
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"localstripe did not answer within {START_TIMEOUT_SECONDS}s")


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    if not BINARY.exists():
        pytest.skip("needs localstripe: pip install -r requirements-dev.txt")
    port = free_port()
    log = (tmp_path_factory.mktemp("localstripe") / "localstripe.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 (the virtualenv's own localstripe)
        [str(BINARY), "--port", str(port), "--from-scratch"], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        server = LocalStripe(url=f"http://127.0.0.1:{port}")
        _wait_until_up(server.url, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def stripe_on(localstripe: LocalStripe, settings: Any) -> LocalStripe:
    """Stripe on, for this test: the settings point the services at the session's localstripe."""
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_API_BASE = localstripe.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return localstripe
