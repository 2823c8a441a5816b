"""With the broker down, the partner API still answers what it committed; once the broker is
back, beat's sweeps do the background work that could not be queued, once."""

import logging
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from config.schedule import BEAT_SCHEDULE
from loyalty.members.models import Notification
from perks.merchants.models import DeliveryStatus, WebhookDelivery
from perks.merchants.services import webhook_deliveries_dispatch, webhook_endpoint_create
from perks.merchants.services.webhooks.delivery import DISPATCH_LEASE
from perks.vouchers.campaigns.services import campaigns_resume
from perks.vouchers.codes import code_format
from perks.vouchers.models import Campaign, CampaignStatus, Redemption, UsageKind, UsageRecord, Voucher
from perks.vouchers.services.batches import SWEEP_GRACE
from perks.vouchers.tasks import (
    redemption_batches_due,
    redemption_side_effects_due,
    reversal_side_effects_due,
)
from tests.factories import JoinedMemberFactory, PerkFactory, StaffFactory
from tests.factories.vouchers import VoucherFactory
from tests.perks.merchants.test_webhook_delivery import wait_until
from tests.perks.vouchers.campaign_support import members_in
from tests.support.celery import broker_unreachable, purge_queue
from tests.support.links import linked

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "8d0c7a4e-2b1f-4c7e-9a55-0f3e6d1b2c48"


@pytest.fixture
def voucher(partner):
    perk = PerkFactory.create(merchant=partner.merchant, type="discount", params={"percent": "10"})
    return VoucherFactory.create(perk=perk, member=JoinedMemberFactory.create())


def _redeem(partner, voucher):
    return partner.post("/redemptions", {"code": code_format(voucher.code)}, idempotency_key=KEY)


def _side_effects() -> dict[str, int]:
    return {
        "usage": UsageRecord.objects.filter(kind=UsageKind.REDEMPTION).count(),
        "notifications": Notification.objects.filter(kind="voucher_redeemed").count(),
        "due": Redemption.objects.filter(side_effects_at=None).count(),
    }


def test_a_redemption_with_the_broker_down_answers_201_and_its_side_effects_follow_once(
    partner, voucher, celery_worker, caplog
):
    caplog.set_level(logging.WARNING, logger="loyalty.core.tasks")
    with broker_unreachable():
        started = time.monotonic()
        response = _redeem(partner, voucher)
        took = time.monotonic() - started
        replay = _redeem(partner, voucher)

    assert response.status_code == 201, response.content
    assert took < 1.0  # the till is not kept waiting on the broker
    assert (replay.status_code, replay.json()["id"]) == (201, response.json()["id"])
    voucher.refresh_from_db()
    assert (Redemption.objects.count(), voucher.uses_count) == (1, 1)
    assert _side_effects() == {"usage": 0, "notifications": 0, "due": 1}
    assert "vouchers.redemption_side_effects_due not enqueued" in caplog.text

    # The broker is back: beat's sweep, through it and a real worker, does them.
    redemption_side_effects_due.delay()
    wait_until(lambda: _side_effects()["due"] == 0)
    redemption_side_effects_due.delay()
    wait_until(lambda: purge_queue() == 0)

    assert _side_effects() == {"usage": 1, "notifications": 1, "due": 0}


def test_a_reversal_with_the_broker_down_answers_and_the_sweep_records_it_once(partner, voucher):
    redemption_id = _redeem(partner, voucher).json()["id"]

    with broker_unreachable():
        response = partner.post(f"/redemptions/{redemption_id}/reversal", {"reason": "wrong till"})

    assert response.status_code == 201, response.content
    assert not UsageRecord.objects.filter(kind=UsageKind.REVERSAL).exists()
    assert reversal_side_effects_due.name in {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert reversal_side_effects_due() == 1
    assert reversal_side_effects_due() == 0
    assert UsageRecord.objects.filter(kind=UsageKind.REVERSAL).count() == 1


def test_issuing_a_voucher_with_the_broker_down_answers_201_and_the_sweep_sends_its_webhook(partner):
    owner = StaffFactory.create(merchant=partner.merchant).user
    webhook_endpoint_create(
        merchant=partner.merchant,
        actor=owner,
        url="https://hooks.example.com/perkline",
        event_types=["voucher.issued"],
    )
    member = JoinedMemberFactory.create()
    linked(member, partner.merchant)
    perk = PerkFactory.create(merchant=partner.merchant)

    with broker_unreachable():
        response = partner.post("/vouchers", {"perk": perk.ref, "member": member.ref})

    assert response.status_code == 201, response.content
    assert Voucher.objects.filter(member=member).count() == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    purge_queue()
    assert webhook_deliveries_dispatch() == 0  # its send may still be on the queue
    with time_machine.travel(timezone.now() + DISPATCH_LEASE + timedelta(seconds=1)):
        assert webhook_deliveries_dispatch() == 1
    assert purge_queue() == 1


def test_a_campaign_started_with_the_broker_down_is_planned_by_the_resume_sweep(partner):
    members_in("gold", 2)
    perk = PerkFactory.create(merchant=partner.merchant)

    with broker_unreachable():
        response = partner.post("/campaigns", {"perk": perk.ref, "audience": {"min_tier": "gold"}})

    assert response.status_code == 202, response.content
    assert Campaign.objects.get().status == CampaignStatus.PENDING
    purge_queue()
    assert campaigns_resume(stalled_for=timedelta(0)) == 1
    assert purge_queue() == 1


def test_a_batch_uploaded_with_the_broker_down_answers_202_and_the_sweep_applies_it_once(partner, voucher):
    body = {"redemptions": [{"code": voucher.code, "occurred_at": timezone.now().isoformat()}]}
    with broker_unreachable():
        response = partner.post("/redemption-batches", body)

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"
    assert redemption_batches_due.name in {entry["task"] for entry in BEAT_SCHEDULE.values()}
    with time_machine.travel(timezone.now() + SWEEP_GRACE + timedelta(seconds=1)):
        assert redemption_batches_due() == 1
        assert redemption_batches_due() == 0

    done = partner.get(f"/redemption-batches/{response.json()['id']}").json()
    assert (done["status"], [item["status"] for item in done["results"]]) == ("done", ["redeemed"])
    assert Redemption.objects.filter(voucher=voucher).count() == 1
