"""A member's erasure on the points side: what is left in the wallet goes to the expiry
account by one balanced transaction, and erasing again posts nothing."""

import pytest

from loyalty.points.models import Account, PlatformAccount, PointsLot, PointsTransaction, TransactionKind
from loyalty.points.reasons import reason_text
from loyalty.points.selectors import points_balance
from loyalty.points.services import platform_account, wallet_for_member
from loyalty.points.services.erasure import points_erase
from tests.factories import MemberFactory
from tests.loyalty.points.ledger_checks import assert_ledger_consistent, earn, spend

pytestmark = pytest.mark.django_db


def test_the_balance_leaves_for_the_expiry_account_from_every_lot():
    member = MemberFactory.create()
    earn(member.pk, 120)
    spend(member, 20)
    expiry = platform_account(platform=PlatformAccount.EXPIRY)

    erased = points_erase(member_id=member.pk)

    assert erased is not None
    assert erased.kind == TransactionKind.ERASE
    assert reason_text(erased.reason_code, erased.reason_params) == "Left with the erased account"
    assert sorted(erased.postings.values_list("account_id", "amount")) == sorted(
        [(wallet_for_member(member_id=member.pk).pk, -100), (expiry.pk, 100)]
    )
    assert points_balance(member=member) == 0
    assert not PointsLot.objects.filter(account__member=member, remaining__gt=0).exists()
    assert_ledger_consistent()


def test_nothing_left_posts_nothing():
    member, walletless = MemberFactory.create(), MemberFactory.create()
    earn(member.pk, 30)
    points_erase(member_id=member.pk)
    posted = PointsTransaction.objects.count()

    assert points_erase(member_id=member.pk) is None
    assert points_erase(member_id=walletless.pk) is None

    assert PointsTransaction.objects.count() == posted
    assert not Account.objects.filter(member=walletless).exists()
    assert_ledger_consistent()
