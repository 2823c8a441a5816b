"""Concurrent spending, reversing and importing on real PostgreSQL row locks."""

from decimal import Decimal

import pytest

from loyalty.points.errors import InsufficientPoints
from loyalty.points.models import PointsTransaction, TransactionKind
from loyalty.points.selectors import points_balance
from loyalty.points.services import points_earn_purchases, points_spend, points_transaction_reverse
from tests.factories import EarnRuleFactory, MemberFactory, PurchaseFactory
from tests.loyalty.points.ledger_checks import TEST_MERCHANT, assert_ledger_consistent, earn
from tests.support.races import errors_of, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20


def test_twenty_concurrent_spends_end_with_the_exact_balance_and_refused_ones_change_nothing():
    member = MemberFactory.create()
    earn(member.pk, 250, external_id="a")
    earn(member.pk, 250, external_id="b")  # two lots, so spends cross a lot boundary

    def spend(index):
        return points_spend(
            member=member,
            points=30,
            idempotency_key=f"race-{index}",
            reason_code="perk_claim",
            reason_params={"perk_title": "Free coffee"},
            actor="member:race",
        )

    outcomes = race(spend, threads=THREADS)

    succeeded = [o for o in outcomes if o.ok]
    assert all(isinstance(error, InsufficientPoints) for error in errors_of(outcomes))
    assert len(succeeded) == 500 // 30
    assert points_balance(member=member) == 500 - 30 * len(succeeded)
    spent_keys = set(
        PointsTransaction.objects.filter(kind=TransactionKind.SPEND).values_list("idempotency_key", flat=True)
    )
    assert spent_keys == {o.value.idempotency_key for o in succeeded}
    assert_ledger_consistent()


def test_the_same_spend_replayed_concurrently_posts_once():
    member = MemberFactory.create()
    earn(member.pk, 100)

    outcomes = race(
        lambda _: points_spend(
            member=member,
            points=60,
            idempotency_key="once",
            reason_code="perk_claim",
            reason_params={"perk_title": "Free coffee"},
            actor="member:race",
        ),
        threads=8,
    )

    assert all(o.ok for o in outcomes)
    assert len({o.value.pk for o in outcomes}) == 1
    assert points_balance(member=member) == 40
    assert_ledger_consistent()


def test_concurrent_reversals_of_one_transaction_reverse_it_once():
    member = MemberFactory.create()
    earn(member.pk, 100)
    earned = PointsTransaction.objects.get(kind=TransactionKind.EARN)

    outcomes = race(
        lambda i: points_transaction_reverse(
            transaction=earned, idempotency_key=f"rev-{i}", note="refund", actor="operator:race"
        ),
        threads=8,
    )

    assert sum(o.ok for o in outcomes) == 1
    assert {type(e).__name__ for e in errors_of(outcomes)} == {"AlreadyReversed"}
    assert points_balance(member=member) == 0
    assert_ledger_consistent()


def test_the_same_purchases_imported_concurrently_earn_once():
    EarnRuleFactory.create()
    members = MemberFactory.create_batch(5)
    purchases = [
        PurchaseFactory.build(member_id=members[i % 5].pk, amount=Decimal(10 + i)) for i in range(40)
    ]

    outcomes = race(
        lambda _: points_earn_purchases(
            merchant_ref=TEST_MERCHANT,
            merchant_name="Blue Bottle",
            merchant_category="coffee",
            purchases=purchases,
        ),
        threads=4,
    )

    assert all(o.ok for o in outcomes), errors_of(outcomes)
    assert sum(o.value.earned for o in outcomes) == 40
    assert sum(o.value.duplicates for o in outcomes) == 3 * 40
    assert sum(points_balance(member=m) for m in members) == sum(10 + i for i in range(40))
    assert_ledger_consistent()
