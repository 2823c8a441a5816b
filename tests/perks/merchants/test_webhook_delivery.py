"""Webhooks out, against a real HTTP server on the loopback, a real worker and a killed one."""

import hashlib
import hmac
import itertools
import json
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from perks.merchants.models import AttemptOutcome, DeliveryStatus, WebhookAttempt, WebhookDelivery
from perks.merchants.services import (
    webhook_deliveries_dispatch,
    webhook_delivery_attempt,
    webhook_delivery_retry,
    webhook_emit,
    webhook_endpoint_create,
)
from perks.merchants.services.webhooks import delivery
from perks.merchants.services.webhooks.delivery import (
    DISPATCH_LEASE,
    RETRY_BASE,
    RETRY_CAP,
    WebhookEventInput,
    retry_delay,
    webhook_endpoint_deliveries_attempt,
    webhook_events_emit,
)
from tests.factories import MerchantFactory, StaffFactory
from tests.support.races import race
from tests.support.receiver import Receiver
from tests.support.worker_process import kill, worker_process

WAIT_SECONDS = 60


def verify_signature(header: str, body: bytes, secret: str, *, tolerance_seconds: int = 300) -> bool:
    """What a partner does with Perkline-Signature, written from docs/integration.md alone."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    signed = fields["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(fields["t"])) <= tolerance_seconds
    return fresh and hmac.compare_digest(expected, fields["v1"])


def endpoint_for(receiver, merchant=None, types=("voucher.redeemed",)):
    merchant = merchant or MerchantFactory.create()
    owner = StaffFactory.create(merchant=merchant).user
    return webhook_endpoint_create(merchant=merchant, actor=owner, url=receiver.url, event_types=types)


def emit_one(created, data=None):
    event = webhook_emit(
        merchant=created.endpoint.merchant, type="voucher.redeemed", data=data or {"uses": 1}
    )
    return event, WebhookDelivery.objects.get(event=event)


def attempt_now(delivery):
    """Run the delivery task's body here; it must find the delivery due."""
    attempt = webhook_delivery_attempt(delivery_id=delivery.pk)
    assert attempt is not None
    return attempt


def wait_until(condition, *, seconds=WAIT_SECONDS, poke=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if poke:
            poke()
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not reached within {seconds}s")


@pytest.mark.django_db
def test_a_delivery_posts_the_event_signed_and_records_the_attempt():
    with Receiver([200]).running() as receiver:
        created = endpoint_for(receiver)
        event, delivery = emit_one(created, {"voucher": "ABCD-EFGH-JKMN-P", "amount": "120.00"})

        attempt = attempt_now(delivery)

    (request,) = receiver.received
    assert verify_signature(request.headers["Perkline-Signature"], request.body, created.secret)
    assert json.loads(request.body) == {
        "id": event.ref,
        "type": "voucher.redeemed",
        "created": event.created_at.isoformat(),
        "data": {"voucher": "ABCD-EFGH-JKMN-P", "amount": "120.00"},
    }
    assert request.headers["Content-Type"] == "application/json"
    assert (attempt.number, attempt.outcome, attempt.status_code) == (1, AttemptOutcome.SUCCEEDED, 200)
    assert attempt.latency_ms is not None
    assert attempt.response_excerpt == "answered 200"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.completed_at is not None


@pytest.mark.django_db
def test_a_tampered_body_or_another_secret_fails_verification():
    with Receiver([200]).running() as receiver:
        created = endpoint_for(receiver)
        _, delivery = emit_one(created)
        webhook_delivery_attempt(delivery_id=delivery.pk)

    (request,) = receiver.received
    header = request.headers["Perkline-Signature"]
    assert not verify_signature(header, request.body.replace(b"1", b"2"), created.secret)
    assert not verify_signature(header, request.body, "whsec_someone-else")


@pytest.mark.django_db
def test_a_failure_is_recorded_and_retried_after_a_backoff_until_it_succeeds():
    with Receiver([500, 503, 200]).running() as receiver:
        created = endpoint_for(receiver)
        _, delivery = emit_one(created)
        start = timezone.now()

        first = attempt_now(delivery)
        assert webhook_delivery_attempt(delivery_id=delivery.pk) is None  # not due yet: a duplicate task
        delivery.refresh_from_db()
        first_wait = delivery.next_attempt_at - first.finished_at
        with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1)):
            second = attempt_now(delivery)
        delivery.refresh_from_db()
        second_wait = delivery.next_attempt_at - second.finished_at
        with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1)):
            third = attempt_now(delivery)

    assert (first.outcome, first.status_code, first.error) == (AttemptOutcome.FAILED, 500, "HTTP 500")
    assert first.response_excerpt == "answered 500"
    assert (second.outcome, second.status_code) == (AttemptOutcome.FAILED, 503)
    assert (third.number, third.outcome) == (3, AttemptOutcome.SUCCEEDED)
    assert RETRY_BASE / 2 <= first_wait <= RETRY_BASE
    assert RETRY_BASE <= second_wait <= RETRY_BASE * 2
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempt_count == 3
    assert start < delivery.completed_at


@pytest.mark.django_db
def test_an_unreachable_endpoint_is_given_up_after_24_hours_then_retried_by_hand():
    with Receiver([200]).running() as receiver:
        created = endpoint_for(receiver)
    # The server is gone now: every connection is refused.
    _, delivery = emit_one(created)
    clock = timezone.now()

    while delivery.status == DeliveryStatus.PENDING:
        with time_machine.travel(clock, tick=False):
            webhook_delivery_attempt(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        clock = delivery.next_attempt_at + timedelta(seconds=1)

    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert delivery.status == DeliveryStatus.FAILED
    assert attempts[-1].started_at <= delivery.deadline
    assert all(a.outcome == AttemptOutcome.FAILED and "ConnectionError" in a.error for a in attempts)
    assert 10 <= len(attempts) <= 20
    gaps = [b.started_at - a.started_at for a, b in itertools.pairwise(attempts)]
    assert max(gaps) <= RETRY_CAP + timedelta(seconds=1)

    owner = created.endpoint.merchant.staff.get().user
    with time_machine.travel(clock, tick=False):
        webhook_delivery_retry(delivery=delivery, actor=owner)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING
        assert delivery.deadline == clock + timedelta(hours=24)


def test_backoff_grows_exponentially_to_its_cap_with_jitter():
    for number in range(1, 20):
        ceiling = min(RETRY_BASE * 2 ** (number - 1), RETRY_CAP)
        delays = {retry_delay(number) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1


@pytest.mark.django_db(transaction=True)
def test_emitted_after_commit_and_delivered_by_a_real_worker(celery_worker):
    with Receiver([200]).running() as receiver:
        created = endpoint_for(receiver)
        _, delivery = emit_one(created)

        wait_until(lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED)

    assert len(receiver.received) == 1
    assert WebhookAttempt.objects.get(delivery=delivery).outcome == AttemptOutcome.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_queues_a_retry_once_it_is_due(celery_worker):
    with Receiver([500, 200]).running() as receiver:
        created = endpoint_for(receiver)
        _, delivery = emit_one(created)
        wait_until(lambda: WebhookAttempt.objects.filter(delivery=delivery).exists())
        wait_until(lambda: WebhookAttempt.objects.get(delivery=delivery).finished_at is not None)
        assert webhook_deliveries_dispatch() == 0  # the retry is not due yet

        due = WebhookDelivery.objects.get(pk=delivery.pk).next_attempt_at + timedelta(seconds=1)
        with time_machine.travel(due):
            assert webhook_deliveries_dispatch() == 1
            assert webhook_deliveries_dispatch() == 0  # already on the queue
            wait_until(lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED)

    first, second = receiver.received
    assert first.body == second.body


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_copies_of_the_task_at_once_make_one_attempt():
    with Receiver([200]).running() as receiver:
        created = endpoint_for(receiver)
        _, delivery = emit_one(created)

        outcomes = race(lambda _: webhook_delivery_attempt(delivery_id=delivery.pk), threads=8)

    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert sum(o.value is not None for o in outcomes) == 1
    assert len(receiver.received) == 1
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_neither_loses_the_delivery_nor_duplicates_an_attempt():
    with Receiver([200], hold_first=True).running() as receiver:
        created = endpoint_for(receiver)
        lease = "2"
        with worker_process(WEBHOOK_ATTEMPT_LEASE_SECONDS=lease) as worker:
            event, delivery = emit_one(created)
            assert receiver.arrived.wait(WAIT_SECONDS), "the worker never sent the webhook"
            kill(worker)
        receiver.release()

        (open_attempt,) = WebhookAttempt.objects.filter(delivery=delivery)
        assert open_attempt.finished_at is None
        assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING

        with worker_process(WEBHOOK_ATTEMPT_LEASE_SECONDS=lease):
            wait_until(
                lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED,
                poke=webhook_deliveries_dispatch,
            )

    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.number, a.outcome) for a in attempts] == [
        (1, AttemptOutcome.INTERRUPTED),
        (2, AttemptOutcome.SUCCEEDED),
    ]
    # At least once: the partner saw the event twice, with one id to deduplicate on.
    assert [json.loads(r.body)["id"] for r in receiver.received] == [event.ref, event.ref]
    assert all(
        verify_signature(r.headers["Perkline-Signature"], r.body, created.secret) for r in receiver.received
    )


@pytest.mark.django_db
def test_a_delivery_whose_message_was_lost_is_queued_again_after_the_dispatch_lease():
    with Receiver([200]).running() as receiver:
        created = endpoint_for(receiver)
    # In this test's transaction nothing is ever committed, so the emitted message never went out.
    emit_one(created)

    assert webhook_deliveries_dispatch() == 0
    with time_machine.travel(timezone.now() + DISPATCH_LEASE + timedelta(seconds=1)):
        assert webhook_deliveries_dispatch() == 1


# A batch of events goes out as one task an endpoint, still one POST an event.


def emit_batch(created, count):
    """`count` events at the endpoint's merchant, emitted as one batch; their deliveries."""
    merchant = created.endpoint.merchant
    webhook_events_emit(
        type="voucher.redeemed", events=[WebhookEventInput(merchant.pk, {"n": n}) for n in range(count)]
    )
    return list(WebhookDelivery.objects.filter(endpoint=created.endpoint).order_by("pk"))


@pytest.mark.django_db
def test_an_endpoints_task_posts_each_event_on_its_own_signed_with_an_attempt_each():
    with Receiver([200, 500, 200]).running() as receiver:
        created = endpoint_for(receiver)
        deliveries = emit_batch(created, 3)

        made = webhook_endpoint_deliveries_attempt(
            endpoint_id=created.endpoint.pk, delivery_ids=[d.pk for d in deliveries]
        )

    assert made == 3
    bodies = [json.loads(r.body) for r in receiver.received]
    assert [b["id"] for b in bodies] == [d.event.ref for d in deliveries]
    assert [b["data"] for b in bodies] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert all(
        verify_signature(r.headers["Perkline-Signature"], r.body, created.secret) for r in receiver.received
    )
    attempts = [list(WebhookAttempt.objects.filter(delivery=d)) for d in deliveries]
    assert [[(a.number, a.outcome) for a in rows] for rows in attempts] == [
        [(1, AttemptOutcome.SUCCEEDED)],
        [(1, AttemptOutcome.FAILED)],
        [(1, AttemptOutcome.SUCCEEDED)],
    ]
    failed = WebhookDelivery.objects.get(pk=deliveries[1].pk)
    assert failed.status == DeliveryStatus.PENDING  # retried after its own backoff
    finished_at = attempts[1][0].finished_at
    assert finished_at is not None
    assert failed.next_attempt_at - finished_at >= RETRY_BASE / 2
    # Run again (a redelivered message): nothing is due, nothing is sent twice.
    assert (
        webhook_endpoint_deliveries_attempt(
            endpoint_id=created.endpoint.pk, delivery_ids=[d.pk for d in deliveries]
        )
        == 0
    )


@pytest.mark.django_db
def test_a_task_out_of_time_hands_the_rest_of_its_deliveries_to_another(
    monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(delivery, "SEND_BUDGET_SECONDS", -1)
    monkeypatch.setattr(
        delivery.webhook_endpoint_deliver, "enqueue_committed", lambda args, kwargs=None: queued.append(args)
    )
    with Receiver([200]).running() as receiver:
        created = endpoint_for(receiver)
        deliveries = emit_batch(created, 3)
        before = timezone.now()

        with django_capture_on_commit_callbacks(execute=True):
            made = webhook_endpoint_deliveries_attempt(
                endpoint_id=created.endpoint.pk, delivery_ids=[d.pk for d in deliveries]
            )

    assert made == 1
    assert len(receiver.received) == 1
    rest = [d.pk for d in deliveries[1:]]
    assert queued == [(created.endpoint.pk, rest)]
    assert all(d.dispatched_at >= before for d in WebhookDelivery.objects.filter(pk__in=rest))


@pytest.mark.django_db
def test_the_sweeper_queues_one_task_an_endpoint(monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(
        delivery.webhook_endpoint_deliver, "enqueue_committed", lambda args, kwargs=None: queued.append(args)
    )
    with Receiver([200]).running() as receiver:
        first = endpoint_for(receiver)
        second = endpoint_for(receiver, merchant=first.endpoint.merchant)
    deliveries = emit_batch(first, 2)
    others = list(WebhookDelivery.objects.filter(endpoint=second.endpoint).order_by("pk"))

    with (
        time_machine.travel(timezone.now() + DISPATCH_LEASE + timedelta(seconds=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert webhook_deliveries_dispatch() == 4

    assert sorted(queued) == sorted(
        [(first.endpoint.pk, [d.pk for d in deliveries]), (second.endpoint.pk, [d.pk for d in others])]
    )


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_delivered_to_every_endpoint_by_a_real_worker(celery_worker):
    with Receiver([200]).running() as first_receiver, Receiver([200]).running() as second_receiver:
        first = endpoint_for(first_receiver)
        endpoint_for(second_receiver, merchant=first.endpoint.merchant)
        emit_batch(first, 5)

        wait_until(lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 10)

    for receiver in (first_receiver, second_receiver):
        assert sorted(json.loads(r.body)["data"]["n"] for r in receiver.received) == list(range(5))
    assert WebhookAttempt.objects.count() == 10
