"""Random sequences of earn, spend, reverse and expire, with the ledger checked after every step."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from loyalty.points.errors import AlreadyReversed, InsufficientPoints, NotReversible
from loyalty.points.models import Account, PointsLot, PointsTransaction
from loyalty.points.selectors import points_balance
from loyalty.points.services import (
    Purchase,
    points_earn_purchases,
    points_expire_due,
    points_spend,
    points_transaction_reverse,
)
from tests.factories import EarnRuleFactory, MemberFactory
from tests.loyalty.points.ledger_checks import TEST_MERCHANT, assert_ledger_consistent

pytestmark = pytest.mark.django_db

START = datetime(2025, 1, 1, 4, tzinfo=UTC)
MEMBERS = 3


class Ledger(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.savepoint()
        EarnRuleFactory.create()
        self.members = MemberFactory.create_batch(MEMBERS)
        self.transactions: list[int] = []
        self.counter = 0
        self.today = START.date()

    def _key(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    @initialize()
    def open(self) -> None:
        assert_ledger_consistent()

    @rule(member=st.integers(0, MEMBERS - 1), points=st.integers(1, 300), days=st.integers(0, 500))
    def earn(self, member: int, points: int, days: int) -> None:
        purchase = Purchase(
            external_id=self._key("evt"),
            member_id=self.members[member].pk,
            amount=Decimal(points),
            currency="CNY",
            occurred_at=START + timedelta(days=days),
        )
        points_earn_purchases(
            merchant_ref=TEST_MERCHANT,
            merchant_name="Blue Bottle",
            merchant_category="coffee",
            purchases=[purchase],
        )
        self.transactions.append(PointsTransaction.objects.latest("pk").pk)

    @rule(member=st.integers(0, MEMBERS - 1), points=st.integers(1, 400), to_merchant=st.booleans())
    def spend(self, member: int, points: int, to_merchant: bool) -> None:
        before = self._snapshot()
        try:
            spent = points_spend(
                member=self.members[member],
                points=points,
                idempotency_key=self._key("spend"),
                reason_code="perk_claim",
                reason_params={"perk_title": "Free coffee"},
                merchant_ref=TEST_MERCHANT if to_merchant else None,
                actor="member:test",
            )
        except InsufficientPoints:
            assert points_balance(member=self.members[member]) < points
            assert self._snapshot() == before, "a refused spend changed something"
            return
        self.transactions.append(spent.pk)

    @precondition(lambda self: self.transactions)
    @rule(choice=st.integers(0, 10_000))
    def reverse(self, choice: int) -> None:
        original = PointsTransaction.objects.get(pk=self.transactions[choice % len(self.transactions)])
        try:
            points_transaction_reverse(
                transaction=original, idempotency_key=self._key("rev"), note="test", actor="operator:test"
            )
        except (AlreadyReversed, NotReversible, InsufficientPoints):
            return

    @rule(days=st.integers(0, 60))
    def expire(self, days: int) -> None:
        self.today += timedelta(days=days)
        points_expire_due(today=self.today)
        self.transactions.extend(PointsTransaction.objects.filter(kind="expire").values_list("pk", flat=True))

    @invariant()
    def ledger_is_consistent(self) -> None:
        assert_ledger_consistent()
        if connection.vendor == "postgresql":
            connection.check_constraints()  # fires the deferred balance trigger now

    def _snapshot(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
        balances = list(Account.objects.order_by("pk").values_list("pk", "balance"))
        lots = list(PointsLot.objects.order_by("pk").values_list("pk", "remaining"))
        return balances, lots, PointsTransaction.objects.count()

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)


def test_random_sequences_keep_the_ledger_balanced():
    run_state_machine_as_test(
        Ledger,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
