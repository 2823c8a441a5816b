from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from loyalty.core.errors import Invalid
from loyalty.points.models import EarnRule, PointsLot, PointsTransaction, Posting, TierMultiplier
from loyalty.points.reasons import reason_text
from loyalty.points.selectors import points_balance
from loyalty.points.services import merchant_account_for, points_earn_purchases
from loyalty.scoring.models import MemberStanding, Tier
from tests.factories import EarnRuleFactory, MemberFactory, PurchaseFactory
from tests.loyalty.points.ledger_checks import TEST_MERCHANT, assert_ledger_consistent

pytestmark = pytest.mark.django_db

JUNE = datetime(2026, 6, 1, 12, tzinfo=UTC)


def earn_at(purchases, category="coffee", merchant_ref=TEST_MERCHANT):
    return points_earn_purchases(
        merchant_ref=merchant_ref,
        merchant_name="Blue Bottle",
        merchant_category=category,
        purchases=purchases,
    )


def stand(member, slug):
    tier = Tier.objects.get(slug=slug)
    MemberStanding.objects.create(member=member, score=tier.min_score, tier=tier)


def test_a_purchase_earns_the_category_rate_times_the_tier_multiplier_rounded_down():
    member = MemberFactory.create()
    stand(member, "gold")  # ×1.25 by default

    result = earn_at(
        [PurchaseFactory.build(member_id=member.pk, amount=Decimal("42.50"), occurred_at=JUNE)], "hotel"
    )

    # hotel earns 2 a CNY: 42.50 × 2 × 1.25 = 106.25
    assert (result.earned, result.points) == (1, 106)
    assert points_balance(member=member) == 106
    assert merchant_account_for(merchant_ref=TEST_MERCHANT).balance == -106
    assert_ledger_consistent()


def test_a_member_without_a_standing_earns_the_base_rate():
    member = MemberFactory.create()

    earn_at(
        [
            PurchaseFactory.build(
                member_id=member.pk, amount=Decimal("42.00"), currency="USD", occurred_at=JUNE
            )
        ]
    )

    earned = PointsTransaction.objects.get()
    assert points_balance(member=member) == 294  # coffee in USD: 7 a unit
    assert earned.tier_multiplier is None
    assert earned.earn_rule == EarnRule.objects.get(merchant_category="coffee", currency="USD")


def test_the_rule_in_force_when_the_purchase_happened_is_used_and_kept_on_the_transaction():
    member = MemberFactory.create()
    old_rule = EarnRuleFactory.create()
    new_rule = EarnRuleFactory.create(points_per_unit=Decimal(3), effective_from=JUNE)
    gold = Tier.objects.get(slug="gold")
    TierMultiplier.objects.create(tier=gold, multiplier=Decimal(2), effective_from=JUNE)
    stand(member, "gold")

    earn_at(
        [
            PurchaseFactory.build(
                external_id="before",
                member_id=member.pk,
                amount=Decimal(10),
                occurred_at=JUNE - timedelta(seconds=1),
            ),
            PurchaseFactory.build(
                external_id="after", member_id=member.pk, amount=Decimal(10), occurred_at=JUNE
            ),
        ]
    )

    before = PointsTransaction.objects.get(idempotency_key__endswith=":before")
    after = PointsTransaction.objects.get(idempotency_key__endswith=":after")
    assert before.tier_multiplier is not None
    assert after.tier_multiplier is not None
    assert (before.earn_rule, before.tier_multiplier.multiplier) == (old_rule, Decimal("1.25"))
    assert (after.earn_rule, after.tier_multiplier.multiplier) == (new_rule, Decimal(2))
    assert Posting.objects.get(transaction=before, amount__gt=0).amount == 12  # 10 × 1 × 1.25
    assert Posting.objects.get(transaction=after, amount__gt=0).amount == 60  # 10 × 3 × 2


def test_the_same_event_earns_once_however_often_it_is_posted():
    member = MemberFactory.create()
    purchase = PurchaseFactory.build(member_id=member.pk, amount=Decimal(50))

    first = earn_at([purchase, purchase])
    again = earn_at([purchase])

    assert (first.earned, first.duplicates) == (1, 1)
    assert (again.earned, again.duplicates, again.points) == (0, 1, 0)
    assert points_balance(member=member) == 50


def test_the_same_event_id_at_another_merchant_is_another_purchase():
    member = MemberFactory.create()
    purchase = PurchaseFactory.build(member_id=member.pk, amount=Decimal(50))

    earn_at([purchase])
    earn_at([purchase], merchant_ref="mch_other")

    assert points_balance(member=member) == 100


def test_purchases_with_no_rule_or_worth_less_than_a_point_earn_nothing():
    member = MemberFactory.create()

    result = earn_at(
        [
            PurchaseFactory.build(member_id=member.pk, currency="CHF"),
            PurchaseFactory.build(member_id=member.pk, amount=Decimal("0.99")),
        ]
    )

    assert (result.earned, result.unrated) == (0, 2)
    assert not PointsTransaction.objects.exists()


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"external_id": ""}, "purchases[0].external_id"),
        ({"amount": Decimal(0)}, "purchases[0].amount"),
        ({"amount": Decimal("1.00001")}, "purchases[0].amount"),
        ({"amount": 5}, "purchases[0].amount"),
        ({"currency": "cny"}, "purchases[0].currency"),
        ({"occurred_at": datetime(2026, 6, 1)}, "purchases[0].occurred_at"),
    ],
)
def test_a_malformed_purchase_is_refused_by_name(change, param):
    member = MemberFactory.create()

    with pytest.raises(Invalid) as refused:
        earn_at([PurchaseFactory.build(member_id=member.pk, **change)])

    assert refused.value.param == param


def test_a_purchase_for_no_known_member_is_refused_and_nothing_earns():
    member = MemberFactory.create()

    with pytest.raises(Invalid) as refused:
        earn_at(
            [PurchaseFactory.build(member_id=member.pk), PurchaseFactory.build(member_id=member.pk + 1000)]
        )

    assert refused.value.param == "member_id"
    assert not PointsTransaction.objects.exists()


def test_the_statement_reads_the_purchase_in_english_and_chinese():
    member = MemberFactory.create()
    earn_at([PurchaseFactory.build(member_id=member.pk, amount=Decimal("42.00"))])

    earned = PointsTransaction.objects.get()

    assert reason_text(earned.reason_code, earned.reason_params) == "Purchase at Blue Bottle, 42.00 CNY"
    assert (
        reason_text(earned.reason_code, earned.reason_params, locale="zh-hans")
        == "在Blue Bottle消费，42.00 CNY"
    )


def test_points_earned_the_same_day_share_a_lot_that_expires_a_year_later():
    member = MemberFactory.create()
    day = datetime(2024, 2, 29, 3, tzinfo=UTC)

    earn_at(
        [
            PurchaseFactory.build(
                member_id=member.pk, amount=Decimal(10), occurred_at=day + timedelta(hours=h)
            )
            for h in (0, 5)
        ]
    )

    lot = PointsLot.objects.get()
    assert (lot.points, lot.remaining, str(lot.earned_on), str(lot.expires_on)) == (
        20,
        20,
        "2024-02-29",
        "2025-02-28",
    )
