"""Vouchers with the broker down: the tier change and the batch upload are committed and
answered, and beat's sweeps do what their tasks could not, exactly once, whichever of the
sweep and a late task comes first."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.members.models import Dimension
from loyalty.scoring.models import MemberStanding, Tier, TierChange
from loyalty.scoring.services import score_recompute
from perks.vouchers.campaigns.services import AUTO_ISSUE_GRACE, vouchers_auto_issue_due
from perks.vouchers.campaigns.tasks import vouchers_auto_issue_task
from perks.vouchers.models import BatchStatus, Redemption, RedemptionBatch, Voucher, VoucherStatus
from perks.vouchers.services.batches import (
    SWEEP_GRACE,
    BatchItem,
    redemption_batch_create,
    redemption_batches_due,
)
from perks.vouchers.tasks import redemption_batch_apply
from tests.factories import JoinedMemberFactory, MerchantFactory
from tests.loyalty.scoring.test_broker_down import _record
from tests.perks.vouchers.test_campaign_jobs import auto_perk
from tests.support.celery import broker_unreachable

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def diamond_bound():
    """A member whose recorded events, once recomputed, take them to the top tier."""
    member = JoinedMemberFactory.create(consents=[Dimension.PAYMENT_HISTORY, Dimension.FULFILMENT])
    _record(member, "payment_on_time", 12)
    _record(member, "rental_returned_on_time", 8)
    return member


def _slug(tier: Tier | None) -> str | None:
    return tier.slug if tier else None


def _sweeps(start, *steps):
    """Beat's auto-issue sweep run at `start` plus each of `steps` grace periods: how many
    vouchers each run issued."""
    return [vouchers_auto_issue_due(now=start + step * AUTO_ISSUE_GRACE) for step in steps]


def test_a_tier_reached_with_the_broker_down_gets_its_perks_from_the_sweep_once(diamond_bound, caplog):
    member = diamond_bound
    perk = auto_perk(MerchantFactory.create(), "gold")
    start = timezone.now()
    assert _sweeps(start, 0) == [0]  # beat was running: its first run starts at the newest change
    caplog.set_level(logging.WARNING, logger="loyalty.core.tasks")

    with broker_unreachable():
        score_recompute(member_ids=[member.pk])

    assert MemberStanding.objects.get(member=member).tier.slug == "diamond"
    assert "vouchers.auto_issue not enqueued" in caplog.text
    assert not Voucher.objects.filter(member=member).exists()

    # Within the grace period nothing moves; after it, the sweep sees the change, and one
    # grace period on it issues the voucher; again, nothing.
    assert _sweeps(start, 0.5, 1, 2, 3) == [0, 0, 1, 0]
    [voucher] = Voucher.objects.filter(member=member)
    assert voucher.perk_id == perk.pk

    # The task, late (its message redelivered), finds the change served, even once spent.
    Voucher.objects.filter(pk=voucher.pk).update(status=VoucherStatus.REDEEMED, uses_count=1)
    change = TierChange.objects.filter(member=member).latest("pk")
    assert (
        vouchers_auto_issue_task(
            member.pk, "diamond", _slug(change.previous_tier), change.changed_at.isoformat()
        )
        == 0
    )
    assert Voucher.objects.filter(member=member).count() == 1


def test_a_tier_change_its_task_served_is_not_served_again_by_the_sweep(diamond_bound):
    member = diamond_bound
    auto_perk(MerchantFactory.create(), "platinum")
    start = timezone.now()
    _sweeps(start, 0)

    score_recompute(member_ids=[member.pk])  # the broker is up
    change = TierChange.objects.filter(member=member).latest("pk")
    assert (
        vouchers_auto_issue_task(
            member.pk, "diamond", _slug(change.previous_tier), change.changed_at.isoformat()
        )
        == 1
    )
    Voucher.objects.filter(member=member).update(status=VoucherStatus.REDEEMED, uses_count=1)

    assert _sweeps(start, 1, 2, 3) == [0, 0, 0]
    assert Voucher.objects.filter(member=member).count() == 1


def test_a_batch_uploaded_with_the_broker_down_is_applied_by_the_sweep_once(merchant, owner, voucher, caplog):
    caplog.set_level(logging.WARNING, logger="loyalty.core.tasks")
    now = timezone.now()
    with broker_unreachable():
        batch = redemption_batch_create(
            merchant=merchant, actor=owner, items=[BatchItem(code=voucher.code, occurred_at=now)]
        )

    assert "vouchers.redemption_batch_apply not enqueued" in caplog.text
    batch.refresh_from_db()
    assert (batch.status, batch.actor_kind, batch.actor_id) == (BatchStatus.PENDING, "user", owner.pk)

    uploaded = batch.created_at
    assert redemption_batches_due(now=uploaded) == 0  # its task still has the grace period
    assert redemption_batches_due(now=uploaded + SWEEP_GRACE) == 1
    assert redemption_batches_due(now=uploaded + 2 * SWEEP_GRACE) == 0

    assert RedemptionBatch.objects.get(pk=batch.pk).status == BatchStatus.DONE
    assert Redemption.objects.filter(voucher=voucher).count() == 1
    # Its task, late, applies nothing twice.
    assert redemption_batch_apply(batch.pk, "user", owner.pk) == BatchStatus.DONE
    assert Redemption.objects.filter(voucher=voucher).count() == 1


def test_a_batch_whose_worker_was_lost_is_applied_once_stalled(merchant, owner, voucher):
    now = timezone.now()
    batch = redemption_batch_create(
        merchant=merchant, actor=owner, items=[BatchItem(code=voucher.code, occurred_at=now)]
    )
    RedemptionBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING)  # and then the worker died

    assert redemption_batches_due(now=batch.created_at + SWEEP_GRACE) == 0  # its worker may be on it
    assert redemption_batches_due(now=batch.created_at + timedelta(hours=1)) == 1

    assert RedemptionBatch.objects.get(pk=batch.pk).status == BatchStatus.DONE
    assert Redemption.objects.filter(voucher=voucher).count() == 1
