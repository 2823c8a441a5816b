from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.points.errors import InsufficientPoints
from loyalty.points.models import Account, LotMovement, PlatformAccount, PointsLot, PointsTransaction
from loyalty.points.selectors import points_balance
from loyalty.points.services import merchant_account_for, platform_account
from tests.factories import MemberFactory
from tests.loyalty.points.ledger_checks import assert_ledger_consistent, earn, spend

pytestmark = pytest.mark.django_db


def test_spending_takes_the_oldest_lots_first_and_records_them():
    member = MemberFactory.create()
    now = timezone.now()
    earn(member.pk, 100, occurred_at=now - timedelta(days=40))
    earn(member.pk, 100, occurred_at=now - timedelta(days=20))
    earn(member.pk, 100, occurred_at=now)

    spent = spend(member, 150)

    moves = {
        m.lot.earned_on: m.points for m in LotMovement.objects.filter(transaction=spent).select_related("lot")
    }
    oldest, middle = sorted(moves)
    assert moves == {oldest: -100, middle: -50}
    assert sorted(PointsLot.objects.values_list("remaining", flat=True)) == [0, 50, 100]
    assert points_balance(member=member) == 150
    assert_ledger_consistent()


def test_points_spent_on_a_merchants_perk_go_back_to_its_funding_account():
    member = MemberFactory.create()
    earn(member.pk, 120)

    spend(member, 120, merchant_ref="mch_testcoffee0000000000")

    assert merchant_account_for(merchant_ref="mch_testcoffee0000000000").balance == 0
    assert platform_account(platform=PlatformAccount.BREAKAGE).balance == 0


def test_points_spent_on_a_platform_reward_leave_circulation_as_breakage():
    member = MemberFactory.create()
    earn(member.pk, 120)

    spend(member, 100)

    assert platform_account(platform=PlatformAccount.BREAKAGE).balance == 100
    assert_ledger_consistent()


def test_a_short_balance_is_refused_and_changes_nothing():
    member = MemberFactory.create()
    earn(member.pk, 99)
    before = list(Account.objects.order_by("pk").values_list("pk", "balance"))
    transactions = PointsTransaction.objects.count()

    with pytest.raises(InsufficientPoints) as refused:
        spend(member, 100)

    assert refused.value.code == "insufficient_points"
    assert list(Account.objects.order_by("pk").values_list("pk", "balance")) == before
    assert PointsTransaction.objects.count() == transactions
    assert PointsLot.objects.get().remaining == 99


def test_a_member_who_never_earned_is_refused_without_opening_a_wallet():
    member = MemberFactory.create()

    with pytest.raises(InsufficientPoints):
        spend(member, 1)

    assert not Account.objects.filter(member=member).exists()


@pytest.mark.parametrize("points", [0, -5, 1.5])
def test_only_a_positive_whole_number_of_points_can_be_spent(points):
    member = MemberFactory.create()

    with pytest.raises(Invalid):
        spend(member, points)


def test_replaying_a_spend_spends_once():
    member = MemberFactory.create()
    earn(member.pk, 300)

    first = spend(member, 120, key="claim-7")
    again = spend(member, 120, key="claim-7")

    assert again.pk == first.pk
    assert points_balance(member=member) == 180
