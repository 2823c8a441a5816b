import pytest

from loyalty.core.errors import Invalid
from loyalty.points.errors import AlreadyReversed, IdempotencyKeyReused, NotReversible
from loyalty.points.models import PointsLot, PointsTransaction, TransactionKind
from loyalty.points.selectors import points_balance
from loyalty.points.services import merchant_account_for, points_transaction_reverse
from tests.factories import MemberFactory
from tests.loyalty.points.ledger_checks import TEST_MERCHANT, assert_ledger_consistent, earn, spend

pytestmark = pytest.mark.django_db


def reverse(transaction, key="reverse-1", note="Refunded"):
    return points_transaction_reverse(
        transaction=transaction, idempotency_key=key, note=note, actor="operator:test"
    )


def last_earn():
    return PointsTransaction.objects.filter(kind=TransactionKind.EARN).latest("pk")


def test_reversing_an_earn_takes_the_points_back_from_the_member_to_the_merchant():
    member = MemberFactory.create()
    earn(member.pk, 200)

    reversal = reverse(last_earn())

    assert reversal.reverses == last_earn()
    assert points_balance(member=member) == 0
    assert merchant_account_for(merchant_ref=TEST_MERCHANT).balance == 0
    assert_ledger_consistent()


def test_reversing_a_spend_gives_the_points_back_to_the_lots_they_came_from():
    member = MemberFactory.create()
    earn(member.pk, 200)
    spent = spend(member, 150)

    reverse(spent)

    assert points_balance(member=member) == 200
    assert PointsLot.objects.get().remaining == 200
    assert_ledger_consistent()


def test_reversing_an_earn_already_partly_spent_takes_back_only_what_is_left():
    member = MemberFactory.create()
    earn(member.pk, 200)
    spend(member, 150)

    reversal = reverse(last_earn())

    assert sorted(reversal.postings.values_list("amount", flat=True)) == [-50, 50]
    assert points_balance(member=member) == 0
    assert merchant_account_for(merchant_ref=TEST_MERCHANT).balance == -150
    assert_ledger_consistent()


def test_an_earn_wholly_spent_cannot_be_reversed():
    member = MemberFactory.create()
    earn(member.pk, 200)
    spend(member, 200)

    with pytest.raises(NotReversible):
        reverse(last_earn())

    assert not PointsTransaction.objects.filter(kind=TransactionKind.REVERSE).exists()


def test_a_transaction_is_reversed_only_once():
    member = MemberFactory.create()
    earn(member.pk, 200)
    reverse(last_earn(), key="r1")

    with pytest.raises(AlreadyReversed) as second:
        reverse(last_earn(), key="r2")

    assert second.value.code == "already_reversed"


def test_a_reversal_cannot_itself_be_reversed():
    member = MemberFactory.create()
    earn(member.pk, 200)
    reversal = reverse(last_earn(), key="r1")

    with pytest.raises(NotReversible):
        reverse(reversal, key="r2")


def test_replaying_a_reversal_returns_it_and_another_note_under_its_key_is_refused():
    member = MemberFactory.create()
    earn(member.pk, 200)
    first = reverse(last_earn(), key="r1")

    assert reverse(last_earn(), key="r1").pk == first.pk
    with pytest.raises(IdempotencyKeyReused):
        reverse(last_earn(), key="r1", note="Something else")


def test_a_reversal_needs_a_reason():
    member = MemberFactory.create()
    earn(member.pk, 200)

    with pytest.raises(Invalid):
        reverse(last_earn(), note=" ")

    assert points_balance(member=member) == 200
