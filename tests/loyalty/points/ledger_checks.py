"""The ledger's invariants, checked from the rows themselves."""

from collections import defaultdict
from decimal import Decimal

from django.db.models import Sum

from loyalty.members.models import Member
from loyalty.points.models import Account, AccountKind, PointsLot, PointsTransaction, Posting
from loyalty.points.services import Purchase, points_earn_purchases, points_spend
from tests.factories import EarnRuleFactory, PurchaseFactory

TEST_MERCHANT = "mch_testcoffee0000000000"


def assert_ledger_consistent() -> None:
    by_transaction: dict[int, int] = defaultdict(int)
    by_account: dict[int, int] = defaultdict(int)
    counts: dict[int, int] = defaultdict(int)
    for transaction_id, account_id, amount in Posting.objects.values_list(
        "transaction_id", "account_id", "amount"
    ):
        by_transaction[transaction_id] += amount
        by_account[account_id] += amount
        counts[transaction_id] += 1
    assert all(total == 0 for total in by_transaction.values()), "a transaction does not balance"
    assert all(count >= 2 for count in counts.values()), "a transaction has fewer than two postings"
    lots = dict(
        PointsLot.objects.values("account_id")
        .annotate(open=Sum("remaining"))
        .values_list("account_id", "open")
    )
    for account in Account.objects.all():
        assert account.balance == by_account.get(account.pk, 0), f"{account} cached balance drifted"
        if account.kind == AccountKind.MEMBER:
            assert account.balance >= 0, f"{account} is negative"
            assert account.balance == lots.get(account.pk, 0), f"{account} balance differs from its open lots"


def earn(member_id: int, points: int, **purchase: object) -> None:
    """Earn `points` for a member through a coffee purchase of as many CNY (no standing, so times 1)."""
    EarnRuleFactory.create()
    bought: Purchase = PurchaseFactory.build(member_id=member_id, amount=Decimal(points), **purchase)
    result = points_earn_purchases(
        merchant_ref=TEST_MERCHANT,
        merchant_name="Blue Bottle",
        merchant_category="coffee",
        purchases=[bought],
    )
    assert result.earned + result.duplicates == 1


def spend(
    member: Member, points: int, key: str = "spend-1", merchant_ref: str | None = None
) -> PointsTransaction:
    """The member spends `points` on a free coffee, as a perk claim would."""
    return points_spend(
        member=member,
        points=points,
        idempotency_key=key,
        reason_code="perk_claim",
        reason_params={"perk_title": "Free coffee"},
        merchant_ref=merchant_ref,
        actor=f"member:{member.ref}",
    )
