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

Deliveries are queued one task an endpoint, not one a delivery: the task sends that
endpoint's deliveries one after the other, each its own signed POST of one event (the
contract: docs/integration.md) with its own attempts, over one kept-alive session. A job
emitting batch after batch (`webhook_events_emit` inside `webhook_sends_gathered`) queues
them every few seconds instead of at each commit, since a task's publish costs more than
the rows it is about.

This module holds that life of an event: emitting it, the attempts and their
bookkeeping, the dispatch sweep, backoff and retries, and the signed body sent. Which
endpoints exist and what they subscribe to is endpoints.py's; the HTTP request itself
goes through sender.py, which refuses to connect anywhere but a public address.
"""

import hashlib
import hmac
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from loyalty.core.errors import Conflict, Invalid
from perks.merchants.audit import AuditAction
from perks.merchants.models import (
    WEBHOOK_RETRY_WINDOW,
    AttemptOutcome,
    DeliveryStatus,
    Merchant,
    WebhookAttempt,
    WebhookAttemptKey,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from perks.merchants.permissions import Permission
from perks.merchants.services.access import Actor, actor_require, audit_record
from perks.merchants.services.webhooks.endpoints import WEBHOOK_EVENT_TYPES
from perks.merchants.services.webhooks.sender import public_session, refusal_in
from perks.merchants.sql import deliveries_insert, events_insert
from perks.merchants.tasks import webhook_endpoint_deliver

SIGNATURE_HEADER = "Perkline-Signature"
USER_AGENT = "Perkline-Webhooks/1.0"
# Sent only when staff ask for it (`webhook_endpoint_test`); not in WEBHOOK_EVENT_TYPES, so
# no endpoint subscribes to it and no other part may emit it.
TEST_EVENT_TYPE = "webhook.test"

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 10
# How long a queued delivery may wait for a worker before the sweeper queues it again.
DISPATCH_LEASE = timedelta(minutes=5)
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=4)
DISPATCH_BATCH = 1000
EXCERPT_BYTES = 500
# How long one task sends to an endpoint before it hands the rest of its deliveries to a
# task of their own, well inside the task time limit (settings) even when every request
# of the batch runs to its timeouts.
SEND_BUDGET_SECONDS = 60
# How often a job emitting batch after batch queues the sends of what it has committed
# (webhook_sends_gathered).
SEND_GATHER_SECONDS = 5.0


def webhook_emit(*, merchant: Merchant, type: str, data: Mapping[str, Any]) -> WebhookEvent:
    """Record `type` happening at `merchant`, in the caller's transaction; sent after commit."""
    _type_require(type)
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
        _deliveries_send_on_commit((delivery.pk, delivery.endpoint_id) for delivery in deliveries)
    return event


@dataclass(frozen=True)
class WebhookEventInput:
    merchant_id: int
    data: Mapping[str, Any]


def webhook_events_emit(
    *, type: str, events: Sequence[WebhookEventInput], now: datetime | None = None
) -> int:
    """`webhook_emit` for a batch of events of one `type` (created `now`), set-based: the
    events in one statement, each merchant's subscriptions read once, the deliveries in one
    statement, and after commit one task for each endpoint with its deliveries of the
    batch. The number of deliveries."""
    _type_require(type)
    if not events:
        return 0
    now = now or timezone.now()
    # No savepoint: a batch fails or succeeds with the caller's transaction as a whole.
    with transaction.atomic(savepoint=False):
        inserted = events_insert(
            type=type,
            merchant_ids=[event.merchant_id for event in events],
            data=[event.data for event in events],
            now=now,
        )
        subscribed = _subscribed_endpoints({merchant_id for _, merchant_id in inserted}, type)
        deliveries = deliveries_insert(
            pairs=[
                (event_id, endpoint_id)
                for event_id, merchant_id in inserted
                for endpoint_id in subscribed.get(merchant_id, ())
            ],
            now=now,
        )
        _deliveries_send_on_commit(deliveries)
    return len(deliveries)


def webhook_delivery_attempt(
    *, delivery_id: int, session: requests.Session | None = None
) -> WebhookAttempt | None:
    """Make the next attempt of a due delivery (through `session`, a `public_session()`,
    when given); None when it is not due (or is done)."""
    started = _attempt_start(delivery_id)
    if started is None:
        return None
    attempt, delivery = started
    body = webhook_body(delivery.event)
    if session is not None:
        result = _post(session, delivery.endpoint, body)
    else:
        with public_session() as own:
            result = _post(own, delivery.endpoint, body)
    _attempt_finish(attempt, delivery, result)
    attempt.refresh_from_db()
    return attempt


def webhook_endpoint_deliveries_attempt(*, endpoint_id: int, delivery_ids: Sequence[int]) -> int:
    """Attempt, one after the other, each of these deliveries to one endpoint that is due:
    one event a POST, signed, with its own attempt rows, backoff and retries, exactly as
    `webhook_delivery_attempt`; they share one session, so its connections are kept alive
    from one to the next. After SEND_BUDGET_SECONDS the rest go to a task of their own.
    The number of attempts made."""
    started = time.monotonic()
    made = 0
    with public_session() as session:
        for index, delivery_id in enumerate(delivery_ids):
            if index and time.monotonic() - started > SEND_BUDGET_SECONDS:
                _deliveries_hand_on(endpoint_id, delivery_ids[index:])
                break
            if webhook_delivery_attempt(delivery_id=delivery_id, session=session) is not None:
                made += 1
    return made


def webhook_deliveries_dispatch() -> int:
    """Queue the deliveries that are due and not already waiting on the queue (beat)."""
    now = timezone.now()
    due = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) & (
        Q(dispatched_at__lt=F("next_attempt_at")) | Q(dispatched_at__lte=now - DISPATCH_LEASE)
    )
    with transaction.atomic():
        deliveries = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(due)
            .order_by("next_attempt_at")
            .values_list("pk", "endpoint_id")[:DISPATCH_BATCH]
        )
        WebhookDelivery.objects.filter(pk__in=[pk for pk, _ in deliveries]).update(dispatched_at=now)
        _deliveries_send_on_commit(deliveries)
    return len(deliveries)


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
        _deliveries_send_on_commit([(delivery.pk, delivery.endpoint_id)])
    delivery.refresh_from_db()
    return delivery


def webhook_endpoint_test(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookDelivery:
    """Send `endpoint` a `webhook.test` event now, whatever it subscribes to, as every event
    goes (signed, attempted, retried and logged), so a partner can check their end before a
    real event depends on it. No endpoint can subscribe to the type: only this one gets it."""
    actor_require(actor=actor, merchant=endpoint.merchant, permission=Permission.WEBHOOKS_MANAGE)
    if not endpoint.is_active:
        raise Conflict("Turn the endpoint on before you send it a test event.", param="endpoint")
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            merchant=endpoint.merchant, type=TEST_EVENT_TYPE, data={"test": True, "endpoint": endpoint.ref}
        )
        delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint)
        audit_record(
            merchant=endpoint.merchant,
            actor=actor,
            action=AuditAction.WEBHOOK_ENDPOINT_TESTED,
            target=endpoint.ref,
            params={"url": endpoint.url},
        )
        _deliveries_send_on_commit([(delivery.pk, endpoint.pk)])
    return delivery


def webhook_request_headers(*, signature: str) -> dict[str, str]:
    """The headers of every delivery's POST, signed with `signature`."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature,
    }


def webhook_body(event: WebhookEvent) -> bytes:
    payload = {
        "id": event.ref,
        "type": event.type,
        "created": event.created_at.isoformat(),
        "data": event.data,
    }
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, as docs/integration.md promises."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def retry_delay(attempt_number: int) -> timedelta:
    """Exponential in the attempt number, capped, with the upper half jittered so a burst of
    failures (an endpoint that was down) does not come back all at once."""
    ceiling = min(RETRY_BASE * 2 ** (attempt_number - 1), RETRY_CAP)
    half = ceiling / 2
    return half + timedelta(milliseconds=secrets.randbelow(int(half.total_seconds() * 1000) + 1))


def _type_require(type: str) -> None:
    if type not in WEBHOOK_EVENT_TYPES:
        raise Invalid(f"Unknown webhook event type {type!r}.", param="type")


def _subscribed_endpoints(merchant_ids: Iterable[int], type: str) -> dict[int, list[int]]:
    """The active endpoints of each of these merchants that subscribe to `type`, in one query."""
    subscribed: dict[int, list[int]] = defaultdict(list)
    endpoints = WebhookEndpoint.objects.filter(merchant_id__in=merchant_ids, is_active=True).order_by("pk")
    for endpoint_id, merchant_id, event_types in endpoints.values_list("pk", "merchant_id", "event_types"):
        if type in event_types:
            subscribed[merchant_id].append(endpoint_id)
    return subscribed


class _Sends:
    """Deliveries committed and not yet queued, by endpoint, queued one task an endpoint
    every `every` seconds at most."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.pending: dict[int, list[int]] = defaultdict(list)
        self.sent_at = time.monotonic()
        self.closed = False

    def add(self, deliveries: Iterable[tuple[int, int]]) -> None:
        for delivery_id, endpoint_id in deliveries:
            self.pending[endpoint_id].append(delivery_id)
        # Closed: an outer transaction committed after the job's block ended.
        if self.closed or time.monotonic() - self.sent_at >= self.every:
            self.send()

    def send(self) -> None:
        pending, self.pending, self.sent_at = self.pending, defaultdict(list), time.monotonic()
        for endpoint_id, delivery_ids in pending.items():
            webhook_endpoint_deliver.enqueue_committed((endpoint_id, sorted(delivery_ids)))


_gathered: ContextVar[_Sends | None] = ContextVar("webhook_sends_gathered", default=None)


@contextmanager
def webhook_sends_gathered(*, every: float | None = None) -> Iterator[None]:
    """Within the block (a job committing batch after batch of events), the deliveries each
    commit adds are queued one task an endpoint every `every` seconds (by default
    SEND_GATHER_SECONDS) and when the block
    ends, instead of at each commit: publishing a task costs the job as much CPU as tens of
    the rows it writes. A delivery whose task was never queued (the process died) is
    queued by the dispatch sweep once its DISPATCH_LEASE has passed."""
    sends = _Sends(SEND_GATHER_SECONDS if every is None else every)
    token = _gathered.set(sends)
    try:
        yield
    finally:
        _gathered.reset(token)
        sends.closed = True
        sends.send()


def _deliveries_send_on_commit(deliveries: Iterable[tuple[int, int]]) -> None:
    """After commit, one task for each endpoint among these (delivery id, endpoint id), or
    into the sends being gathered (`webhook_sends_gathered`)."""
    gathered = _gathered.get()
    if gathered is not None:
        transaction.on_commit(partial(gathered.add, list(deliveries)))
        return
    by_endpoint: dict[int, list[int]] = defaultdict(list)
    for delivery_id, endpoint_id in deliveries:
        by_endpoint[endpoint_id].append(delivery_id)
    for endpoint_id, delivery_ids in by_endpoint.items():
        webhook_endpoint_deliver.delay_on_commit(endpoint_id, sorted(delivery_ids))


def _deliveries_hand_on(endpoint_id: int, delivery_ids: Sequence[int]) -> None:
    """Queue what a task had no time left for, as dispatched now, so the sweep leaves it."""
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk__in=delivery_ids, status=DeliveryStatus.PENDING).update(
            dispatched_at=timezone.now()
        )
        webhook_endpoint_deliver.delay_on_commit(endpoint_id, list(delivery_ids))


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
        # The attempt's number is kept once by its key row (attempts are partitioned by month).
        WebhookAttemptKey.objects.create(delivery=delivery, number=number)
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


def _post(session: requests.Session, endpoint: WebhookEndpoint, body: bytes) -> _Result:
    headers = webhook_request_headers(
        signature=webhook_signature(secret=endpoint.secret, timestamp=int(time.time()), body=body)
    )
    started = time.perf_counter()
    try:
        with session.post(
            endpoint.url,
            data=body,
            headers=headers,
            timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
            allow_redirects=False,
            stream=True,
        ) as response:
            latency_ms = _ms_since(started)
            excerpt = response.raw.read(EXCERPT_BYTES, decode_content=True).decode("utf-8", "replace")
    except requests.RequestException as exc:
        refused = refusal_in(exc)
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
