"""What follows a redemption and a reversal: one usage row, one webhook, one notification,
however many times the task runs; redemptions are the outbox their drain empties."""

import json
import time

import pytest

from loyalty.members.models import Notification
from perks.merchants.models import WebhookDelivery, WebhookEvent
from perks.merchants.services import webhook_endpoint_create
from perks.vouchers.models import Redemption, UsageKind, UsageRecord
from perks.vouchers.services import (
    redemption_reverse,
    redemption_side_effects_apply,
    reversal_side_effects_apply,
    side_effects,
    voucher_issue,
    voucher_redeem,
)
from perks.vouchers.services.side_effects import redemption_side_effects_due, redemption_side_effects_nudge
from perks.vouchers.tasks import redemption_side_effects_due as drain
from tests.support.celery import purge_queue
from tests.support.races import race
from tests.support.receiver import Receiver

WAIT_SECONDS = 30


def wait_until(condition):
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {WAIT_SECONDS}s")
        time.sleep(0.1)


@pytest.fixture
def redemption(merchant, perk, member, owner, key, django_capture_on_commit_callbacks):
    voucher = voucher_issue(perk=perk, member=member, actor=owner)
    with django_capture_on_commit_callbacks(execute=False):  # the tests run the task themselves
        return voucher_redeem(merchant=merchant, actor=key, code=voucher.code)


@pytest.mark.django_db
def test_running_the_side_effects_twice_records_once(redemption):
    assert redemption_side_effects_apply(redemption_id=redemption.pk) is True
    assert redemption_side_effects_apply(redemption_id=redemption.pk) is False

    usage = UsageRecord.objects.get()
    assert (usage.kind, usage.quantity, usage.merchant_id) == (
        UsageKind.REDEMPTION,
        1,
        redemption.merchant_id,
    )
    event = WebhookEvent.objects.get(type="voucher.redeemed")
    assert event.data["redemption"] == redemption.ref
    assert event.data["member"] == redemption.voucher.member.ref
    assert Notification.objects.filter(kind="voucher_redeemed").count() == 1


@pytest.mark.django_db
def test_a_reversal_records_a_negative_usage_and_its_webhook_once(redemption, key):
    redemption_side_effects_apply(redemption_id=redemption.pk)
    reversal = redemption_reverse(redemption=redemption, actor=key, reason="Refund")

    assert reversal_side_effects_apply(reversal_id=reversal.pk) is True
    assert reversal_side_effects_apply(reversal_id=reversal.pk) is False

    assert sorted(UsageRecord.objects.values_list("quantity", flat=True)) == [-1, 1]
    event = WebhookEvent.objects.get(type="redemption.reversed")
    assert (event.data["redemption"], event.data["reason"]) == (redemption.ref, "Refund")


def test_a_real_worker_runs_them_after_commit_and_a_second_run_changes_nothing(
    celery_worker, merchant, perk, member, owner, key
):
    with Receiver([200]).running() as receiver:
        webhook_endpoint_create(
            merchant=merchant, actor=owner, url=receiver.url, event_types=["voucher.redeemed"]
        )
        voucher = voucher_issue(perk=perk, member=member, actor=owner)

        redemption = voucher_redeem(merchant=merchant, actor=key, code=voucher.code)
        wait_until(lambda: len(receiver.received) == 1)
        assert drain.apply_async(ignore_result=False).get(timeout=WAIT_SECONDS) == 0

    assert UsageRecord.objects.filter(redemption=redemption).count() == 1
    assert WebhookDelivery.objects.filter(event__type="voucher.redeemed").count() == 1
    (request,) = receiver.received
    body = json.loads(request.body)
    assert (body["type"], body["data"]["redemption"]) == ("voucher.redeemed", redemption.ref)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_record_once(redemption):
    outcomes = race(lambda _: redemption_side_effects_apply(redemption_id=redemption.pk), threads=4)

    assert sorted(o.value for o in outcomes) == [False, False, False, True]
    assert UsageRecord.objects.count() == 1
    assert WebhookEvent.objects.filter(type="voucher.redeemed").count() == 1


@pytest.mark.django_db
def test_the_drain_applies_every_due_redemption_once_in_batches(merchant, perk, member, owner, key):
    redemptions = []
    for _ in range(5):
        voucher = voucher_issue(perk=perk, member=member, actor=owner)
        redemptions.append(voucher_redeem(merchant=merchant, actor=key, code=voucher.code))
    redemption_side_effects_apply(redemption_id=redemptions[0].pk)  # one a task already did

    assert redemption_side_effects_due(batch=2) == 4
    assert redemption_side_effects_due(batch=2) == 0

    assert not Redemption.objects.filter(side_effects_at=None).exists()
    assert UsageRecord.objects.count() == WebhookEvent.objects.filter(type="voucher.redeemed").count() == 5


@pytest.mark.django_db
def test_a_redemption_left_due_by_a_crash_is_applied_by_the_sweep(redemption):
    assert Redemption.objects.get(pk=redemption.pk).side_effects_at is None

    assert drain.apply().get() == 1

    assert Redemption.objects.get(pk=redemption.pk).side_effects_at is not None
    assert UsageRecord.objects.filter(redemption=redemption).count() == 1


def test_a_burst_of_commits_wakes_the_drain_once_per_interval(monkeypatch):
    monkeypatch.setattr(side_effects, "_nudged_at", -side_effects.NUDGE_SECONDS)
    purge_queue()

    for _ in range(50):
        redemption_side_effects_nudge()
    assert purge_queue() == 1

    time.sleep(side_effects.NUDGE_SECONDS)
    redemption_side_effects_nudge()
    assert purge_queue() == 1
