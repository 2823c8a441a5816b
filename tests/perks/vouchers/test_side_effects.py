"""What follows a redemption and a reversal: one usage row, one webhook, one notification,
however many times the task runs; redemptions are the outbox their drain empties."""

import json
import time
from collections import defaultdict

import pytest

from loyalty.members.errors import MemberNotFound
from loyalty.members.models import LinkStart, MerchantLink, Notification
from loyalty.members.selectors import member_linked_by_ref
from perks.merchants.models import WebhookDelivery, WebhookEvent
from perks.merchants.services import webhook_endpoint_create
from perks.merchants.services.webhooks import delivery
from perks.vouchers.models import Redemption, UsageKind, UsageRecord
from perks.vouchers.services import (
    redemption_reverse,
    redemption_side_effects_apply,
    reversal_side_effects_apply,
    side_effects,
    voucher_issue,
    voucher_redeem,
)
from perks.vouchers.services.side_effects import (
    redemption_side_effects_due,
    redemption_side_effects_nudge,
    redemptions_side_effects_apply,
)
from perks.vouchers.tasks import redemption_side_effects_due as drain
from perks.vouchers.tasks import reversal_side_effects
from tests.factories import JoinedMemberFactory
from tests.perks.vouchers.side_effects_support import shop, side_effect_counts, side_effect_rows
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


# The drain, set-based: a batch's side effects in a handful of statements, each row once.


def redemptions_at_shops(per_shop: int = 2) -> list[Redemption]:
    """Redemptions at shops with 0 to 3 endpoints by members who redeem at several of them."""
    shops = [shop(endpoints) for endpoints in (0, 1, 2, 3)]
    members = [JoinedMemberFactory.create() for _ in range(3)]
    return [s.redeem(members[(i + n) % len(members)]) for n in range(per_shop) for i, s in enumerate(shops)]


@pytest.mark.django_db
def test_the_drain_links_each_member_with_the_merchant_they_redeemed_at(merchant, perk, member, owner, key):
    voucher = voucher_issue(perk=perk, member=member, actor=owner)
    voucher_redeem(merchant=merchant, actor=key, code=voucher.code)
    with pytest.raises(MemberNotFound):
        member_linked_by_ref(ref=member.ref, merchant_ref=merchant.ref)

    assert redemption_side_effects_due() == 1

    assert member_linked_by_ref(ref=member.ref, merchant_ref=merchant.ref) == member
    link = MerchantLink.objects.get(member=member)
    assert (link.merchant_name, link.started_by) == (merchant.name, LinkStart.REDEMPTION)
    event = WebhookEvent.objects.get(type="voucher.redeemed")
    assert event.data["member"] == member.ref


def deliveries_by_endpoint() -> dict[int, list[int]]:
    found = defaultdict(list)
    for pk, endpoint_id in WebhookDelivery.objects.order_by("pk").values_list("pk", "endpoint_id"):
        found[endpoint_id].append(pk)
    return found


@pytest.mark.django_db(transaction=True)
def test_the_drain_sends_each_endpoint_one_task_for_the_deliveries_its_batches_committed(monkeypatch):
    redemptions = redemptions_at_shops(per_shop=3)
    queued = []
    monkeypatch.setattr(
        delivery.webhook_endpoint_deliver, "enqueue_committed", lambda args, kwargs=None: queued.append(args)
    )
    monkeypatch.setattr(delivery, "SEND_GATHER_SECONDS", 3600)

    assert redemption_side_effects_due(batch=5) == len(redemptions)

    by_endpoint = deliveries_by_endpoint()
    assert len(by_endpoint) == 1 + 2 + 3
    assert all(len(ids) == 3 for ids in by_endpoint.values())
    assert sorted(queued) == sorted(by_endpoint.items())


@pytest.mark.django_db(transaction=True)
def test_sends_gathered_for_no_time_go_out_after_each_batch_one_task_an_endpoint(monkeypatch):
    redemptions = redemptions_at_shops(per_shop=3)
    queued = []
    monkeypatch.setattr(
        delivery.webhook_endpoint_deliver, "enqueue_committed", lambda args, kwargs=None: queued.append(args)
    )
    monkeypatch.setattr(delivery, "SEND_GATHER_SECONDS", 0)

    assert redemption_side_effects_due(batch=4) == len(redemptions)

    # Each batch of four is one redemption at each shop: one delivery for each endpoint.
    assert sorted(queued) == sorted(
        (endpoint_id, [pk]) for endpoint_id, ids in deliveries_by_endpoint().items() for pk in ids
    )


@pytest.mark.django_db
def test_a_drain_inside_a_callers_transaction_sends_once_that_commits(
    monkeypatch, django_capture_on_commit_callbacks
):
    redemptions_at_shops(per_shop=2)
    queued = []
    monkeypatch.setattr(
        delivery.webhook_endpoint_deliver, "enqueue_committed", lambda args, kwargs=None: queued.append(args)
    )

    with django_capture_on_commit_callbacks(execute=True):
        redemption_side_effects_due()
        assert queued == []  # nothing goes out before the caller commits

    assert sorted(queued) == sorted(deliveries_by_endpoint().items())


CRASH_POINTS = [
    pytest.param(side_effects, "due_claim", id="after-the-claim"),
    pytest.param(side_effects, "usage_insert", id="after-the-usage-rows"),
    pytest.param(delivery, "events_insert", id="after-the-webhook-events"),
    pytest.param(delivery, "deliveries_insert", id="after-the-deliveries"),
    pytest.param(side_effects, "lookups_insert", id="after-the-look-ups"),
    pytest.param(side_effects, "notifications_add", id="after-the-notifications"),
    pytest.param(side_effects, "links_start", id="after-the-links"),
]


class WorkerKilled(Exception):
    pass


@pytest.mark.parametrize(("module", "name"), CRASH_POINTS)
@pytest.mark.django_db(transaction=True)
def test_a_drain_killed_between_its_statements_applies_nothing_and_the_next_applies_each_once(
    module, name, monkeypatch
):
    redemptions = redemptions_at_shops()
    nothing_applied = side_effect_counts()
    real = getattr(module, name)

    def then_killed(*args, **kwargs):
        real(*args, **kwargs)
        raise WorkerKilled(name)

    monkeypatch.setattr(module, name, then_killed)
    with pytest.raises(WorkerKilled):
        redemption_side_effects_due()
    assert side_effect_counts() == nothing_applied

    monkeypatch.setattr(module, name, real)
    assert redemption_side_effects_due() == len(redemptions)
    assert redemption_side_effects_due() == 0
    counts = side_effect_counts()
    assert counts == {
        "usage": 8,
        "events": 8,
        "deliveries": 2 * (0 + 1 + 2 + 3),
        "lookups": 8,
        "notifications": 8,
        "links": len({(r.merchant_id, r.voucher.member_id) for r in redemptions}),
        "due": 0,
    }


@pytest.mark.django_db
def test_redemptions_whose_usage_exists_are_recorded_done_and_get_nothing_more():
    redemptions = redemptions_at_shops()
    assert redemption_side_effects_due() == len(redemptions)
    applied = side_effect_rows()
    # As if their side effects had been applied by a run whose outbox mark was lost.
    Redemption.objects.update(side_effects_at=None)

    assert redemption_side_effects_due() == 0

    assert side_effect_rows() == applied


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_four_drains_at_once_apply_each_redemption_once():
    redemptions = redemptions_at_shops(per_shop=10)

    outcomes = race(lambda _: redemption_side_effects_due(batch=3), threads=4)

    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert sum(o.value for o in outcomes) == len(redemptions)
    assert side_effect_counts() == {
        "usage": 40,
        "events": 40,
        "deliveries": 10 * (0 + 1 + 2 + 3),
        "lookups": 40,
        "notifications": 40,
        "links": len({(r.merchant_id, r.voucher.member_id) for r in redemptions}),
        "due": 0,
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_batch_applied_by_four_at_once_records_once():
    ids = [r.pk for r in redemptions_at_shops(per_shop=5)]

    outcomes = race(lambda _: redemptions_side_effects_apply(redemption_ids=ids), threads=4)

    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert sorted(o.value for o in outcomes) == [0, 0, 0, len(ids)]
    assert side_effect_counts()["events"] == side_effect_counts()["notifications"] == len(ids)


@pytest.mark.django_db
def test_the_reversal_task_records_once(redemption, key):
    redemption_side_effects_apply(redemption_id=redemption.pk)
    reversal = redemption_reverse(redemption=redemption, actor=key, reason="Refund")

    assert reversal_side_effects.apply(args=(reversal.pk,)).get() is True
    assert reversal_side_effects.apply(args=(reversal.pk,)).get() is False

    assert sorted(UsageRecord.objects.values_list("quantity", flat=True)) == [-1, 1]
    assert WebhookEvent.objects.filter(type="redemption.reversed").count() == 1
