"""Webhooks out: events written as rows in the caller's transaction, sent after commit.

An event gets one delivery per subscribed endpoint. A delivery is attempted until the
endpoint answers 2xx or its 24-hour deadline passes, with exponential backoff and jitter
between attempts. Each attempt is a row, written before the request goes out and
completed once with what came back, so:

- a second copy of the task (a retry, a redelivered message, the sweeper) finds the
  delivery not due, because the first moved `next_attempt_at` before it sent, and stops;
- a worker killed mid-request leaves its attempt open; once that attempt's lease has
  run out the sweeper queues the delivery again and the next attempt closes the open
  one as interrupted. Nothing is lost and no attempt is recorded twice.

The partner sees at-least-once delivery: after a crash an event may arrive twice, with
the same `id`, which is what receivers deduplicate on.
"""

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from loyalty.core.errors import Conflict, Invalid
from perks.merchants.models import (
    WEBHOOK_RETRY_WINDOW,
    AttemptOutcome,
    DeliveryStatus,
    Merchant,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from perks.merchants.permissions import Permission
from perks.merchants.services.access import Actor, actor_require, audit_record
from perks.merchants.tasks import webhook_deliver

# Event types partners may subscribe to; the parts that emit them add theirs here.
WEBHOOK_EVENT_TYPES = (
    "voucher.issued",
    "voucher.redeemed",
    "voucher.revoked",
    "redemption.reversed",
    "redemption_batch.completed",
    "campaign.completed",
)
MAX_ENDPOINTS = 16
SIGNATURE_HEADER = "Perkline-Signature"

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 10
# How long a queued delivery may wait for a worker before the sweeper queues it again.
DISPATCH_LEASE = timedelta(minutes=5)
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=4)
DISPATCH_BATCH = 1000
EXCERPT_BYTES = 500


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str


def webhook_endpoint_create(
    *, merchant: Merchant, actor: Actor, url: str, event_types: Iterable[str]
) -> CreatedEndpoint:
    """A new endpoint; `secret` is shown to the partner this once (it stays here, to sign)."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.WEBHOOKS_MANAGE)
    url, types = _endpoint_url(url), _event_types(event_types)
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        if WebhookEndpoint.objects.filter(merchant=merchant, is_active=True).count() >= MAX_ENDPOINTS:
            raise Invalid(f"A merchant may have at most {MAX_ENDPOINTS} active endpoints.", param="url")
        endpoint = WebhookEndpoint.objects.create(
            merchant=merchant,
            url=url,
            event_types=types,
            secret=secret,
            created_by=actor if isinstance(actor, User) else None,
        )
        audit_record(
            merchant=merchant,
            actor=actor,
            action="webhook_endpoint.created",
            target=endpoint.ref,
            params={"url": url},
        )
    return CreatedEndpoint(endpoint=endpoint, secret=secret)


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: Actor,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    actor_require(actor=actor, merchant=endpoint.merchant, permission=Permission.WEBHOOKS_MANAGE)
    changes: dict[str, Any] = {}
    if url is not None:
        changes["url"] = _endpoint_url(url)
    if event_types is not None:
        changes["event_types"] = _event_types(event_types)
    if is_active is not None:
        changes["is_active"] = is_active
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**changes)
        audit_record(
            merchant=endpoint.merchant,
            actor=actor,
            action="webhook_endpoint.updated",
            target=endpoint.ref,
            params=dict(changes),
        )
    for field, value in changes.items():
        setattr(endpoint, field, value)
    return endpoint


def webhook_emit(*, merchant: Merchant, type: str, data: Mapping[str, Any]) -> WebhookEvent:
    """Record `type` happening at `merchant`, in the caller's transaction; sent after commit."""
    if type not in WEBHOOK_EVENT_TYPES:
        raise Invalid(f"Unknown webhook event type {type!r}.", param="type")
    with transaction.atomic():
        event = WebhookEvent.objects.create(merchant=merchant, type=type, data=dict(data))
        subscribed = [
            endpoint
            for endpoint in WebhookEndpoint.objects.filter(merchant=merchant, is_active=True)
            if type in endpoint.event_types
        ]
        deliveries = WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(event=event, endpoint=endpoint) for endpoint in subscribed]
        )
        for delivery in deliveries:
            webhook_deliver.delay_on_commit(delivery.pk)
    return event


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookAttempt | None:
    """Make the next attempt of a due delivery; None when it is not due (or is done)."""
    started = _attempt_start(delivery_id)
    if started is None:
        return None
    attempt, delivery = started
    body = webhook_body(delivery.event)
    result = _post(delivery.endpoint, body)
    _attempt_finish(attempt, delivery, result)
    attempt.refresh_from_db()
    return attempt


def webhook_deliveries_dispatch() -> int:
    """Queue the deliveries that are due and not already waiting on the queue (beat)."""
    now = timezone.now()
    due = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) & (
        Q(dispatched_at__lt=F("next_attempt_at")) | Q(dispatched_at__lte=now - DISPATCH_LEASE)
    )
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(due)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:DISPATCH_BATCH]
        )
        WebhookDelivery.objects.filter(pk__in=ids).update(dispatched_at=now)
        for delivery_id in ids:
            webhook_deliver.delay_on_commit(delivery_id)
    return len(ids)


def webhook_delivery_retry(*, delivery: WebhookDelivery, actor: Actor) -> WebhookDelivery:
    """Try a failed delivery again now, with a fresh 24 hours (the partner fixed their end)."""
    actor_require(actor=actor, merchant=delivery.endpoint.merchant, permission=Permission.WEBHOOKS_MANAGE)
    now = timezone.now()
    with transaction.atomic():
        restarted = WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.PENDING,
            next_attempt_at=now,
            dispatched_at=now,
            deadline=now + WEBHOOK_RETRY_WINDOW,
            completed_at=None,
        )
        if not restarted:
            raise Conflict("Only a failed delivery can be retried.", param="delivery")
        audit_record(
            merchant=delivery.endpoint.merchant,
            actor=actor,
            action="webhook_delivery.retried",
            target=delivery.ref,
        )
        webhook_deliver.delay_on_commit(delivery.pk)
    delivery.refresh_from_db()
    return delivery


def webhook_body(event: WebhookEvent) -> bytes:
    payload = {
        "id": event.ref,
        "type": event.type,
        "created": event.created_at.isoformat(),
        "data": event.data,
    }
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, as partner-api.md promises."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def retry_delay(attempt_number: int) -> timedelta:
    """Exponential in the attempt number, capped, with the upper half jittered so a burst of
    failures (an endpoint that was down) does not come back all at once."""
    ceiling = min(RETRY_BASE * 2 ** (attempt_number - 1), RETRY_CAP)
    half = ceiling / 2
    return half + timedelta(milliseconds=secrets.randbelow(int(half.total_seconds() * 1000) + 1))


@dataclass(frozen=True)
class _Result:
    ok: bool
    latency_ms: int
    status_code: int | None = None
    error: str = ""
    excerpt: str = ""


def _attempt_start(delivery_id: int) -> tuple[WebhookAttempt, WebhookDelivery] | None:
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "endpoint")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return None
        WebhookAttempt.objects.filter(delivery=delivery, finished_at__isnull=True).update(
            outcome=AttemptOutcome.INTERRUPTED,
            finished_at=now,
            error="The sender stopped before the outcome was known.",
        )
        if not delivery.endpoint.is_active or now >= delivery.deadline:
            _close(delivery.pk, DeliveryStatus.FAILED, now)
            return None
        number = delivery.attempt_count + 1
        attempt = WebhookAttempt.objects.create(delivery=delivery, number=number, started_at=now)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempt_count=number, next_attempt_at=now + _attempt_lease()
        )
    return attempt, delivery


def _attempt_finish(attempt: WebhookAttempt, delivery: WebhookDelivery, result: _Result) -> None:
    now = timezone.now()
    with transaction.atomic():
        recorded = WebhookAttempt.objects.filter(pk=attempt.pk, finished_at__isnull=True).update(
            finished_at=now,
            outcome=AttemptOutcome.SUCCEEDED if result.ok else AttemptOutcome.FAILED,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error[:300],
            response_excerpt=result.excerpt[:EXCERPT_BYTES],
        )
        if not recorded:
            return  # a later attempt already closed this one as interrupted and took over
        if result.ok:
            _close(delivery.pk, DeliveryStatus.SUCCEEDED, now)
            return
        next_attempt_at = now + retry_delay(attempt.number)
        if next_attempt_at > delivery.deadline:
            _close(delivery.pk, DeliveryStatus.FAILED, now)
        else:
            WebhookDelivery.objects.filter(pk=delivery.pk, attempt_count=attempt.number).update(
                next_attempt_at=next_attempt_at
            )


def _close(delivery_id: int, status: str, now: datetime) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=status, completed_at=now
    )


def _post(endpoint: WebhookEndpoint, body: bytes) -> _Result:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Perkline-Webhooks/1.0",
        SIGNATURE_HEADER: webhook_signature(secret=endpoint.secret, timestamp=int(time.time()), body=body),
    }
    started = time.perf_counter()
    try:
        with (
            _public_session() as session,
            session.post(
                endpoint.url,
                data=body,
                headers=headers,
                timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
                allow_redirects=False,
                stream=True,
            ) as response,
        ):
            latency_ms = _ms_since(started)
            excerpt = response.raw.read(EXCERPT_BYTES, decode_content=True).decode("utf-8", "replace")
    except requests.RequestException as exc:
        refused = _refusal_in(exc)
        error = str(refused) if refused else f"{type(exc).__name__}: {exc}"
        return _Result(ok=False, latency_ms=_ms_since(started), error=error)
    ok = 200 <= response.status_code < 300
    error = "" if ok else f"HTTP {response.status_code}"
    return _Result(
        ok=ok, latency_ms=latency_ms, status_code=response.status_code, error=error, excerpt=excerpt
    )


def _attempt_lease() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_ATTEMPT_LEASE_SECONDS)


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _endpoint_url(url: str) -> str:
    """https to a public host; plain http only to this machine, and only where allowed (demo, tests)."""
    url = (url or "").strip()
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        raise Invalid(
            "Give a full URL, such as https://example.com/perkline/webhooks.", param="url"
        ) from None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.username or parts.password:
        raise Invalid("Leave credentials out of the URL; verify the signature instead.", param="url")
    local = _is_loopback(host)
    if local and not settings.WEBHOOK_ALLOW_LOOPBACK:
        raise Invalid("Webhooks cannot be sent to this machine.", param="url")
    if parts.scheme != "https" and not local:
        raise Invalid("Webhook URLs must use https.", param="url")
    if _is_private_address(host):
        raise Invalid("Webhooks can only be sent to public addresses.", param="url")
    return url


class AddressRefused(OSError):
    """The endpoint's name led to an address webhooks may not go to."""


def _public_session() -> requests.Session:
    """A session that connects only to public addresses: the name in a URL was checked when
    the endpoint was saved, but what it resolves to can change afterwards (DNS rebinding),
    and a worker must never post to, and record the answer of, a service on our private
    network. Proxies from the environment are not used, so the address checked is the
    endpoint's own."""
    session = requests.Session()
    session.trust_env = False
    adapter = _PublicOnlyAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class _PublicOnlyConnection(HTTPConnection):
    """Checks where the name leads before connecting (so nothing private is even knocked
    on), and the address actually connected to afterwards (the name may have been
    answered differently the second time)."""

    def _new_conn(self) -> socket.socket:
        for *_, address in socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM):
            self._refuse_unless_allowed(str(address[0]))
        sock = super()._new_conn()
        try:
            self._refuse_unless_allowed(sock.getpeername()[0])
        except AddressRefused:
            sock.close()
            raise
        return sock

    def _refuse_unless_allowed(self, address: str) -> None:
        if not _address_allowed(address):
            raise AddressRefused(f"Refused: {self.host} is at {address}, which is not a public address.")


class _PublicOnlyHTTPSConnection(_PublicOnlyConnection, HTTPSConnection):
    pass


class _PublicOnlyPool(HTTPConnectionPool):
    ConnectionCls = _PublicOnlyConnection


class _PublicOnlyHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicOnlyHTTPSConnection


class _PublicOnlyAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicOnlyPool, "https": _PublicOnlyHTTPSPool}


def _address_allowed(address: str) -> bool:
    """Whether webhooks may go to `address` (an IP address; ValueError for anything else):
    a public one, or this machine where WEBHOOK_ALLOW_LOOPBACK says so."""
    ip = ipaddress.ip_address(address)
    if ip.is_loopback:
        return bool(settings.WEBHOOK_ALLOW_LOOPBACK)
    return ip.is_global


def _refusal_in(exc: BaseException) -> AddressRefused | None:
    """The AddressRefused behind what requests raised, wherever urllib3 put it."""
    pending: list[object] = [exc]
    seen: set[int] = set()
    while pending:
        found = pending.pop()
        if isinstance(found, AddressRefused):
            return found
        if isinstance(found, BaseException) and id(found) not in seen:
            seen.add(id(found))
            pending += [found.__cause__, found.__context__, getattr(found, "reason", None), *found.args]
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_private_address(host: str) -> bool:
    """An address written in the URL that webhooks may not go to; a name is checked where
    it leads, at each delivery."""
    try:
        return not _address_allowed(host)
    except ValueError:
        return False


def _event_types(event_types: Iterable[str]) -> list[str]:
    chosen = sorted(set(event_types))
    if not chosen:
        raise Invalid("Subscribe to at least one event type.", param="events")
    unknown = [t for t in chosen if t not in WEBHOOK_EVENT_TYPES]
    if unknown:
        raise Invalid(
            f"Unknown event type {unknown[0]!r}; one of {', '.join(WEBHOOK_EVENT_TYPES)}.", param="events"
        )
    return chosen
