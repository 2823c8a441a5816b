"""voucher_claim: the member's own claim, paid in points, all or nothing, once per key."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.points.errors import IdempotencyKeyReused, InsufficientPoints
from loyalty.points.models import PointsTransaction
from loyalty.points.reasons import reason_text
from loyalty.points.selectors import points_balance
from loyalty.scoring.models import HoldCategory, MemberStanding, Tier
from perks.catalog.errors import (
    InventoryExhausted,
    LimitReached,
    MemberNotEligible,
    MemberOnHold,
    PerkInactive,
)
from perks.catalog.models import LimitPeriod, Perk, PerkStatus
from perks.vouchers.models import Voucher, VoucherSource, VoucherStatus
from perks.vouchers.services import voucher_claim
from tests.factories import HoldFactory, PerkFactory
from tests.perks.vouchers.conftest import grant

pytestmark = pytest.mark.django_db


def test_a_claim_issues_a_voucher_and_spends_the_points_with_a_readable_reason(perk, member):
    Perk.objects.filter(pk=perk.pk).update(points_cost=120, uses_per_voucher=1, voucher_ttl_days=14)
    perk.refresh_from_db()
    grant(member, 200)

    voucher = voucher_claim(perk=perk, member=member, idempotency_key="claim-1")

    assert voucher.source == VoucherSource.CLAIM
    assert voucher.status == VoucherStatus.ISSUED
    assert voucher.uses_allowed == 1
    assert voucher.expires_at - voucher.issued_at == timedelta(days=14)
    assert voucher.points_spent == 120
    assert points_balance(member=member) == 80
    assert voucher.points_transaction_id is not None
    spent = PointsTransaction.objects.get(pk=voucher.points_transaction_id)
    assert spent.merchant_ref == perk.merchant.ref
    assert reason_text(spent.reason_code, spent.reason_params) == "Free coffee at Blue Bottle"
    assert Perk.objects.get(pk=perk.pk).issued_count == 1


def test_replaying_the_key_returns_the_same_voucher_and_changes_nothing(perk, member):
    Perk.objects.filter(pk=perk.pk).update(points_cost=50)
    perk.refresh_from_db()
    grant(member, 200)

    first = voucher_claim(perk=perk, member=member, idempotency_key="claim-1")
    again = voucher_claim(perk=perk, member=member, idempotency_key="claim-1")

    assert again.pk == first.pk
    assert Voucher.objects.count() == 1
    assert points_balance(member=member) == 150
    assert Perk.objects.get(pk=perk.pk).issued_count == 1


def test_the_same_key_for_another_perk_is_refused(perk, member, merchant):
    voucher_claim(perk=perk, member=member, idempotency_key="claim-1")
    other = PerkFactory.create(merchant=merchant)

    with pytest.raises(IdempotencyKeyReused):
        voucher_claim(perk=other, member=member, idempotency_key="claim-1")


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_a_key_is_required(perk, member, key):
    with pytest.raises(Invalid) as refused:
        voucher_claim(perk=perk, member=member, idempotency_key=key)
    assert refused.value.param == "idempotency_key"


def test_too_few_points_issue_nothing_and_take_no_inventory(perk, member):
    Perk.objects.filter(pk=perk.pk).update(points_cost=120, inventory=10)
    perk.refresh_from_db()
    grant(member, 100)

    with pytest.raises(InsufficientPoints):
        voucher_claim(perk=perk, member=member, idempotency_key="claim-1")

    assert not Voucher.objects.exists()
    assert Perk.objects.get(pk=perk.pk).issued_count == 0
    assert points_balance(member=member) == 100


def test_an_inactive_perk_is_refused(perk, member):
    Perk.objects.filter(pk=perk.pk).update(status=PerkStatus.PAUSED)
    perk.refresh_from_db()

    with pytest.raises(PerkInactive):
        voucher_claim(perk=perk, member=member, idempotency_key="claim-1")


def test_a_member_below_the_minimum_is_refused(perk, member):
    Perk.objects.filter(pk=perk.pk).update(min_score=900)
    perk.refresh_from_db()

    with pytest.raises(MemberNotEligible):
        voucher_claim(perk=perk, member=member, idempotency_key="claim-1")


def test_a_member_of_the_tier_is_admitted(perk, member):
    diamond = Tier.objects.order_by("-rank")[0]
    Perk.objects.filter(pk=perk.pk).update(min_tier=diamond)
    perk.refresh_from_db()
    MemberStanding.objects.filter(member=member).update(tier=diamond, score=diamond.min_score)

    assert voucher_claim(perk=perk, member=member, idempotency_key="claim-1").pk


def test_a_hold_of_the_merchant_suspends_the_perk(perk, member):
    HoldFactory.create(member=member, merchant_ref=perk.merchant.ref, category=HoldCategory.FREE_ITEM)

    with pytest.raises(MemberOnHold):
        voucher_claim(perk=perk, member=member, idempotency_key="claim-1")


def test_an_exhausted_inventory_is_refused(perk, member):
    Perk.objects.filter(pk=perk.pk).update(inventory=0)

    with pytest.raises(InventoryExhausted):
        voucher_claim(perk=perk, member=member, idempotency_key="claim-1")


def test_the_per_member_limit_counts_within_its_period(perk, member):
    Perk.objects.filter(pk=perk.pk).update(per_member_limit=1, limit_period=LimitPeriod.DAY)
    perk.refresh_from_db()
    morning = timezone.localtime().replace(hour=9, minute=0) + timedelta(days=1)

    with time_machine.travel(morning, tick=False):
        voucher_claim(perk=perk, member=member, idempotency_key="claim-1")
        with pytest.raises(LimitReached):
            voucher_claim(perk=perk, member=member, idempotency_key="claim-2")
    with time_machine.travel(morning + timedelta(days=1), tick=False):
        voucher_claim(perk=perk, member=member, idempotency_key="claim-3")

    assert Voucher.objects.filter(member=member).count() == 2


def test_a_voucher_never_outlives_its_perk(perk, member):
    end = timezone.now() + timedelta(days=3)
    Perk.objects.filter(pk=perk.pk).update(valid_until=end, voucher_ttl_days=30)
    perk.refresh_from_db()

    assert voucher_claim(perk=perk, member=member, idempotency_key="claim-1").expires_at == end
