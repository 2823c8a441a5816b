import pytest
from django.urls import reverse

from loyalty.points.models import Account, PointsTransaction, TransactionKind
from loyalty.points.selectors import points_balance
from loyalty.points.services import wallet_for_member
from tests.factories import MemberFactory, UserFactory
from tests.loyalty.points.ledger_checks import assert_ledger_consistent, earn
from tests.support.accounts import operator_sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    user = UserFactory.create(is_staff=True, is_superuser=True)
    operator_sign_in(client, user)
    return user


def adjust_url(wallet):
    return reverse("admin:points_account_adjust", args=[wallet.pk])


def test_the_ledger_of_an_account_lists_its_postings_with_reasons(client, operator):
    member = MemberFactory.create()
    earn(member.pk, 42)
    wallet = wallet_for_member(member_id=member.pk)

    accounts = client.get(reverse("admin:points_account_changelist"))
    ledger = client.get(reverse("admin:points_posting_changelist"), {"account__id__exact": wallet.pk})
    earned = PointsTransaction.objects.get(kind=TransactionKind.EARN)
    detail = client.get(reverse("admin:points_pointstransaction_change", args=[earned.pk]))

    assert accounts.status_code == 200
    assert ledger.status_code == 200
    assert "Purchase at Blue Bottle, 42 CNY" in ledger.content.decode()
    assert detail.status_code == 200


def test_postings_cannot_be_edited_or_added_in_the_admin(client, operator):
    member = MemberFactory.create()
    earn(member.pk, 42)
    posting = wallet_for_member(member_id=member.pk).postings.get()

    assert client.get(reverse("admin:points_posting_add")).status_code == 403
    response = client.post(reverse("admin:points_posting_change", args=[posting.pk]), {"amount": 1})

    posting.refresh_from_db()
    assert response.status_code in {200, 403}
    assert posting.amount == 42


def test_a_manual_adjustment_posts_a_balanced_transaction_once(client, operator):
    member = MemberFactory.create()
    wallet = wallet_for_member(member_id=member.pk)
    form = {"points": "25", "note": "Goodwill for a late rental", "idempotency_key": "admin-adjust:abc"}

    first = client.post(adjust_url(wallet), form)
    again = client.post(adjust_url(wallet), form)  # a double submit

    assert first.status_code == again.status_code == 302
    assert points_balance(member=member) == 25
    adjustment = PointsTransaction.objects.get(kind=TransactionKind.ADJUST)
    assert adjustment.actor == f"operator:{operator.get_username()}"
    assert adjustment.reason_params == {"note": "Goodwill for a late rental"}
    assert_ledger_consistent()


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"points": "5", "note": "", "idempotency_key": "k1"}, "This field is required"),
        ({"points": "0", "note": "x", "idempotency_key": "k2"}, "at least one point"),
        ({"points": "-5", "note": "Clawback", "idempotency_key": "k3"}, "does not have enough points"),
    ],
)
def test_an_adjustment_without_a_reason_or_beyond_the_balance_is_refused(client, operator, form, error):
    member = MemberFactory.create()
    wallet = wallet_for_member(member_id=member.pk)

    response = client.post(adjust_url(wallet), form)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not PointsTransaction.objects.exists()


def test_only_member_wallets_can_be_adjusted(client, operator):
    platform = Account.objects.filter(kind="platform").first()

    assert client.get(adjust_url(platform)).status_code == 404


def test_staff_without_the_permission_cannot_adjust(client):
    operator_sign_in(client, UserFactory.create(is_staff=True))
    wallet = wallet_for_member(member_id=MemberFactory.create().pk)

    response = client.post(adjust_url(wallet), {"points": "5", "note": "x", "idempotency_key": "k"})

    assert response.status_code == 403
    assert not PointsTransaction.objects.exists()
