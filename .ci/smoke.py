"""The smoke run's redemption (.ci/run): a real one, through the HTTP API of a served
Perkline, as a till makes it, and the worker's side effects after it.

    python .ci/smoke.py http://127.0.0.1:18765 var/ci/demo.json

.ci/run runs it once on Redis and once on RabbitMQ (CELERY_BROKER_URL names the broker).

With the demo's first merchant's key (from `seed_demo`'s output), it checks the deep health
with `HEALTHZ_TOKEN`, registers a webhook endpoint on a receiver of its own, gives the
demo's highest-scored member a voucher, redeems it with an Idempotency-Key (201, and the
same request again replays it), then waits for the worker to deliver `voucher.redeemed`
for that redemption, signed with the endpoint's secret: the redemption's commit, its
enqueue on the broker, the drain and the webhook send all happened, in the processes a
deploy runs. Requests carry `X-Forwarded-Proto: https`, as the proxy in front would.

With a read replica (DATABASE_REPLICA_URL, a streaming standby that .ci/replica.sh started,
and SMOKE_REPLICA_LOG, the standby's log of every statement it was sent), the redemption's
writes went through the router to the primary, and the demo owner signs in to the portal:
right after signing in (a write) their webhooks page reads the primary; without the
`perkline_wrote` cookie it is read from the standby (its queries in the standby's log, who
is asking never), and shows the endpoint and delivery written a moment earlier once the
standby has replayed them.

Standard library only: it runs in the deploy virtualenv, which holds requirements.txt alone.
"""

import hashlib
import hmac
import json
import os
import queue
import re
import sys
import time
import uuid
from dataclasses import dataclass
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode, urlsplit
from urllib.request import HTTPRedirectHandler, Request, build_opener, urlopen

REQUEST_TIMEOUT_SECONDS = 30
# The drain is nudged half a second after the commit; the rest is the worker's queue.
WEBHOOK_WAIT_SECONDS = 60
# How long the worker, started with the web server, may take to consume.
WORKER_START_SECONDS = 60
# How long a page may take to show on the standby what was written a moment earlier:
# replay takes milliseconds here, and the worker records a delivery just after sending it.
REPLAY_WAIT_SECONDS = 15
# loyalty.core.replica.WROTE_COOKIE: a browser's person wrote within the sticky window.
WROTE_COOKIE = "perkline_wrote"


class SmokeFailed(Exception):
    """What the smoke run found wrong, said plainly: the run fails with it."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes


def say(line: str) -> None:
    sys.stdout.write(f"smoke: {line}\n")
    sys.stdout.flush()


def expect(condition: bool, complaint: str) -> None:
    if not condition:
        raise SmokeFailed(complaint)


def call(method: str, url: str, *, headers: dict[str, str], body: object = None) -> Answer:
    """One HTTP request; an error status is an answer too, not an exception."""
    data = None if body is None else json.dumps(body).encode()
    request = Request(url, data=data, method=method, headers={"X-Forwarded-Proto": "https", **headers})  # noqa: S310 (the smoke server's URL)
    try:
        with urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:  # noqa: S310  # nosec B310  # the smoke server's URL, http by design
            status, answer_headers, raw = response.status, dict(response.headers.items()), response.read()
    except HTTPError as error:
        status, answer_headers, raw = error.code, dict(error.headers.items()), error.read()
    return Answer(status, {k.lower(): v for k, v in answer_headers.items()}, json.loads(raw) if raw else None)


class PartnerApi:
    """The partner API as the demo merchant's till sees it."""

    def __init__(self, base: str, key: str) -> None:
        self.root = f"{base}/api/v1"
        self.key = key

    def send(self, method: str, path: str, body: object = None, *, idempotency_key: str = "") -> Answer:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return call(method, f"{self.root}{path}", headers=headers, body=body)


class Receiver:
    """A webhook endpoint on this machine: keeps what it is sent, answers 200."""

    def __init__(self) -> None:
        self.deliveries: queue.Queue[Delivery] = queue.Queue()
        deliveries = self.deliveries

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                deliveries.put(Delivery({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the smoke run says what arrived."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/perkline/webhooks"

    def wait_for(self, event_type: str, redemption: str, secret: str) -> dict[str, Any]:
        """The first delivery of `event_type` about `redemption`, once its signature checks."""
        deadline = time.monotonic() + WEBHOOK_WAIT_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            try:
                delivery = self.deliveries.get(timeout=left)
            except queue.Empty:
                break
            event = json.loads(delivery.body)
            if event.get("type") == event_type and event.get("data", {}).get("redemption") == redemption:
                expect(
                    signed(secret, delivery.headers.get("perkline-signature", ""), delivery.body),
                    f"{event_type} arrived with a signature that does not check: {delivery.headers}",
                )
                return dict(event)
        raise SmokeFailed(
            f"no {event_type} for {redemption} within {WEBHOOK_WAIT_SECONDS} s: is the worker consuming?"
        )


def signed(secret: str, header: str, body: bytes) -> bool:
    """The check docs/integration.md gives partners, on the raw body."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    if "t" not in parts or "v1" not in parts:
        return False
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def check_deep_health(base: str) -> None:
    """The deep check, with the token a deploy gives the monitoring (HEALTHZ_TOKEN), asked
    until the worker just started answers it (a failed check's answer is cached a while)."""
    token = os.environ.get("HEALTHZ_TOKEN", "")
    deadline = time.monotonic() + WORKER_START_SECONDS
    while True:
        answer = call("GET", f"{base}/healthz?deep=1", headers={"Authorization": f"Bearer {token}"})
        if answer.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    expect(answer.status == 200, f"/healthz?deep=1 answered {answer.status}: {answer.body}")
    say(f"deep health ok: {', '.join(sorted(answer.body.get('checks', {})))}")


def voucher_to_redeem(api: PartnerApi, member: str) -> str:
    """A fresh voucher for `member` of the first perk that gives one (a merchant's gift);
    failing that, one the member already holds."""
    answer = api.send("POST", "/benefits", {"member": member})
    expect(answer.status == 200, f"POST /benefits answered {answer.status}: {answer.body}")
    benefits = answer.body["benefits"]
    for benefit in benefits:
        gift = {"perk": benefit["perk"], "member": member}
        issued = api.send("POST", "/vouchers", gift, idempotency_key=str(uuid.uuid4()))
        if issued.status == 201:
            say(f"voucher issued to {member} (perk {benefit['perk']})")
            return str(issued.body["code"])
    held = [benefit["voucher"] for benefit in benefits if benefit.get("voucher")]
    expect(bool(held), f"{member} has no perk at this merchant that gives a voucher: {benefits}")
    say(f"no voucher could be issued; redeeming one {member} holds")
    return str(held[0])


def redeem(api: PartnerApi, code: str) -> str:
    """Redeem `code` once, and replay the request as a till that lost the answer would."""
    key = str(uuid.uuid4())
    first = api.send("POST", "/redemptions", {"code": code}, idempotency_key=key)
    expect(first.status == 201, f"POST /redemptions answered {first.status}: {first.body}")
    again = api.send("POST", "/redemptions", {"code": code}, idempotency_key=key)
    expect(
        again.status == 201
        and again.headers.get("idempotent-replayed") == "true"
        and again.body["id"] == first.body["id"],
        f"the replayed redemption answered {again.status} {again.headers}: {again.body}",
    )
    say(f"redeemed: {first.body['id']} (201, and 201 replayed with the same Idempotency-Key)")
    return str(first.body["id"])


class Browser:
    """A person's browser, as far as the smoke run needs one: its cookies, kept by hand (a
    deploy marks them Secure, and the run speaks http behind the proxy's header), and no
    redirect followed, so each answer is seen as it was sent."""

    class _Stay(HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    def __init__(self, base: str) -> None:
        self.base = base
        self.origin = f"https://{urlsplit(base).netloc}"
        self.cookies: dict[str, str] = {}
        self.opener = build_opener(self._Stay)

    def send(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, set[str]]:
        """The answer's status, body and the names of the cookies it set."""
        headers = {"X-Forwarded-Proto": "https", "Origin": self.origin, "Referer": f"{self.origin}{path}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        data = None
        if form is not None:
            data = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = Request(f"{self.base}{path}", data=data, method=method, headers=headers)  # noqa: S310 (the smoke server's URL)
        try:
            with self.opener.open(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
                status, answer_headers, raw = response.status, response.headers, response.read()
        except HTTPError as error:
            status, answer_headers, raw = error.code, error.headers, error.read()
        set_now = SimpleCookie()
        for header in answer_headers.get_all("Set-Cookie") or []:
            set_now.load(header)
        self.cookies.update({name: morsel.value for name, morsel in set_now.items()})
        return status, raw.decode("utf-8", "replace"), set(set_now)

    def sign_in(self, path: str, email: str, password: str) -> set[str]:
        """The sign-in form, filled in and sent; the cookies its answer set."""
        status, page, _ = self.send("GET", path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        expect(status == 200 and token is not None, f"GET {path} answered {status} without a sign-in form")
        assert token is not None  # for the type checker: expect() settled it
        fields = {"csrfmiddlewaretoken": token[1], "username": email, "password": password}
        status, _, cookies = self.send("POST", path, fields)
        expect(status == 302, f"signing in as {email} answered {status}, not a redirect")
        return cookies


class StandbyLog:
    """The statements the standby was sent (.ci/replica.sh has it log each one before it
    runs it), read on from where the last look stopped."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.offset = self.path.stat().st_size

    def since(self) -> str:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            text = log.read()
        self.offset += len(text)
        return text.decode("utf-8", "replace")


def check_replica_reads(base: str, demo: dict[str, Any], endpoint_url: str) -> None:
    """A lag-tolerant page (the portal's webhooks page) is read from the standby, except
    right after its person wrote, and shows what was written a moment earlier (the endpoint,
    and the delivery the worker recorded) once the standby has replayed it."""
    log = StandbyLog(os.environ.get("SMOKE_REPLICA_LOG", ""))
    merchant = demo["merchants"][0]
    owner = next(staff for staff in merchant["staff"] if staff["role"] == "owner")
    browser = Browser(base)
    page, table = f"/portal/{merchant['slug']}/webhooks/", "merchants_webhookdelivery"

    signed_in = browser.sign_in("/portal/login/", owner["email"], owner["password"])
    expect(WROTE_COOKIE in signed_in, f"signing in (a write) set no {WROTE_COOKIE} cookie: {signed_in}")
    log.since()
    status, _, _ = browser.send("GET", page)
    expect(status == 200, f"GET {page} answered {status}")
    expect(table not in log.since(), f"right after signing in, GET {page} read {table} from the standby")
    say(f"right after signing in (a write), {page} read the primary")

    del browser.cookies[WROTE_COOKIE]  # as a browser does once the sticky window has passed
    started = time.monotonic()
    while True:
        status, body, _ = browser.send("GET", page)
        sent = log.since()
        expect(status == 200, f"GET {page} answered {status}")
        expect(table in sent, f"GET {page} sent the standby no query of {table}: is the router on?")
        for primary_only in ("django_session", "merchants_staff"):  # who is asking, and their role
            expect(primary_only not in sent, f"GET {page} read {primary_only} from the standby")
        # The receiver's URL: once as the endpoint, once per delivery.
        if body.count(endpoint_url) >= 2:
            break
        expect(
            time.monotonic() - started < REPLAY_WAIT_SECONDS,
            f"{page} on the standby lacked the endpoint or its delivery after {REPLAY_WAIT_SECONDS} s",
        )
        time.sleep(0.2)
    waited = time.monotonic() - started
    say(f"{page} read from the standby; it showed the endpoint and its delivery after {waited:.1f} s")


def main(base: str, demo_file: str) -> None:
    demo = json.loads(Path(demo_file).read_text(encoding="utf-8"))
    api = PartnerApi(base, demo["merchants"][0]["api_key"])
    member = max(demo["members"], key=lambda m: m["score"])["ref"]
    say(f"broker: {urlsplit(os.environ.get('CELERY_BROKER_URL', '')).scheme or 'unset'}")
    replica = bool(os.environ.get("DATABASE_REPLICA_URL"))
    say(f"read replica: {'on' if replica else 'off'}")
    check_deep_health(base)
    receiver = Receiver()
    endpoint = api.send("POST", "/webhook-endpoints", {"url": receiver.url, "events": ["voucher.redeemed"]})
    expect(endpoint.status == 201, f"POST /webhook-endpoints answered {endpoint.status}: {endpoint.body}")
    redemption = redeem(api, voucher_to_redeem(api, member))
    started = time.monotonic()
    event = receiver.wait_for("voucher.redeemed", redemption, endpoint.body["secret"])
    waited = time.monotonic() - started
    say(f"{event['type']} delivered by the worker {waited:.1f} s after the answer, signature checked")
    read = api.send("GET", f"/redemptions/{redemption}")
    expect(read.status == 200, f"GET /redemptions/{redemption} answered {read.status}: {read.body}")
    if replica:
        check_replica_reads(base, demo, receiver.url)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    try:
        main(sys.argv[1], sys.argv[2])
    except SmokeFailed as failure:
        sys.exit(f"smoke: FAILED: {failure}")
