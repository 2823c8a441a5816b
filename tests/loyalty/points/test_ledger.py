import pytest
from django.db import IntegrityError

from loyalty.core.errors import Invalid
from loyalty.points.errors import IdempotencyKeyReused, UnbalancedPostings
from loyalty.points.models import Account, PlatformAccount, PointsTransaction, Posting
from loyalty.points.selectors import points_balance
from loyalty.points.services import (
    merchant_account_for,
    platform_account,
    points_adjust,
    points_post,
    wallet_for_member,
)
from tests.factories import MemberFactory
from tests.loyalty.points.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db

OPERATOR = "operator:test"


def grant(member, points, key="grant-1"):
    return points_post(
        idempotency_key=key,
        postings=[
            (wallet_for_member(member_id=member.pk), points),
            (platform_account(platform=PlatformAccount.ISSUANCE), -points),
        ],
        reason_code="adjustment",
        reason_params={"note": "welcome"},
        actor=OPERATOR,
    )


def test_a_balanced_transaction_moves_both_balances_and_opens_a_lot():
    member = MemberFactory.create()

    posted = grant(member, 150)

    assert sorted(posted.postings.values_list("amount", flat=True)) == [-150, 150]
    assert points_balance(member=member) == 150
    assert platform_account(platform=PlatformAccount.ISSUANCE).balance == -150
    assert_ledger_consistent()


@pytest.mark.parametrize(
    "amounts",
    [[100, -99], [100], [0, 0], [50, -50, 0], [1, True]],
    ids=["unbalanced", "single", "zeros", "zero-line", "bool"],
)
def test_postings_that_do_not_balance_are_refused_and_nothing_is_written(amounts):
    member = MemberFactory.create()
    wallet = wallet_for_member(member_id=member.pk)
    issuance = platform_account(platform=PlatformAccount.ISSUANCE)
    accounts = [wallet, issuance, issuance]

    with pytest.raises(UnbalancedPostings):
        points_post(
            idempotency_key="bad",
            postings=list(zip(accounts, amounts, strict=False)),
            reason_code="adjustment",
            reason_params={"note": "x"},
            actor=OPERATOR,
        )

    assert not PointsTransaction.objects.exists()


def test_a_reason_no_statement_could_show_is_refused():
    member = MemberFactory.create()
    wallet = wallet_for_member(member_id=member.pk)
    issuance = platform_account(platform=PlatformAccount.ISSUANCE)

    with pytest.raises(Invalid) as unknown:
        points_post(
            idempotency_key="k",
            postings=[(wallet, 1), (issuance, -1)],
            reason_code="gift",
            reason_params={},
            actor="x",
        )
    with pytest.raises(Invalid) as missing:
        points_post(
            idempotency_key="k",
            postings=[(wallet, 1), (issuance, -1)],
            reason_code="purchase",
            reason_params={},
            actor="x",
        )

    assert unknown.value.param == "reason_code"
    assert missing.value.param == "reason_params"


def test_replaying_a_key_posts_once_and_returns_the_first_transaction():
    member = MemberFactory.create()

    first = grant(member, 80)
    again = grant(member, 80)

    assert again.pk == first.pk
    assert points_balance(member=member) == 80
    assert Posting.objects.count() == 2


def test_the_same_key_with_other_postings_is_refused():
    member = MemberFactory.create()
    grant(member, 80)

    with pytest.raises(IdempotencyKeyReused):
        grant(member, 81)

    assert points_balance(member=member) == 80


def test_a_member_wallet_can_never_go_below_zero_even_written_directly():
    member = MemberFactory.create()
    wallet = wallet_for_member(member_id=member.pk)

    with pytest.raises(IntegrityError):
        Account.objects.filter(pk=wallet.pk).update(balance=-1)


def test_merchant_and_platform_accounts_may_go_negative():
    merchant = merchant_account_for(merchant_ref="mch_x")
    Account.objects.filter(pk=merchant.pk).update(balance=-5)

    merchant.refresh_from_db()
    assert merchant.balance == -5


def test_an_adjustment_needs_a_reason_and_is_a_balanced_transaction():
    member = MemberFactory.create()

    with pytest.raises(Invalid):
        points_adjust(member=member, points=10, note="  ", idempotency_key="a1", actor=OPERATOR)
    posted = points_adjust(
        member=member, points=10, note="Lost receipt", idempotency_key="a2", actor=OPERATOR
    )

    assert posted.reason_params == {"note": "Lost receipt"}
    assert points_balance(member=member) == 10
    assert_ledger_consistent()
