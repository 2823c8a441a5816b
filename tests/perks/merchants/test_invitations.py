"""Invitations to the staff, and the owner a merchant always keeps, under races too."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.core.errors import Conflict, Invalid, NotFound
from perks.merchants.errors import InvitationClosed, LastOwner, RoleForbids
from perks.merchants.models import Invitation, InvitationStatus, Staff
from perks.merchants.permissions import Role
from perks.merchants.services import (
    invitation_accept,
    invitation_accept_new,
    invitation_by_token,
    invitation_revoke,
    staff_add,
    staff_invite,
    staff_role_change,
)
from tests.factories import UserFactory
from tests.support.races import race

pytestmark = pytest.mark.django_db

PASSWORD = "a tram through the old town"


def test_only_the_tokens_hash_is_kept_and_the_link_lasts_seven_days(merchant, owner):
    created = staff_invite(merchant=merchant, actor=owner, email=" Lin@Example.TEST ", role=Role.CASHIER)

    stored = Invitation.objects.get()
    assert stored.email == "lin@example.test"
    assert stored.token_hash == hashlib.sha256(created.token.encode()).hexdigest()
    assert created.token not in {stored.token_hash, stored.email}
    assert stored.expires_at - stored.created_at == timedelta(days=7)
    assert invitation_by_token(token=created.token) == stored


def test_managers_may_not_invite_and_nonsense_is_refused(merchant, owner, manager):
    with pytest.raises(RoleForbids):
        staff_invite(merchant=merchant, actor=manager, email="a@example.test", role=Role.CASHIER)
    with pytest.raises(Invalid) as email:
        staff_invite(merchant=merchant, actor=owner, email="not an address", role=Role.CASHIER)
    with pytest.raises(Invalid) as role:
        staff_invite(merchant=merchant, actor=owner, email="a@example.test", role="king")
    assert (email.value.param, role.value.param) == ("email", "role")


def test_an_invitation_works_once(merchant, owner):
    created = staff_invite(merchant=merchant, actor=owner, email="lin@example.test", role=Role.MANAGER)

    staff = invitation_accept_new(token=created.token, name="Lin", password=PASSWORD)

    assert (staff.merchant, staff.role, staff.user.username) == (merchant, Role.MANAGER, "lin@example.test")
    with pytest.raises(InvitationClosed) as closed:
        invitation_accept(token=created.token, user=staff.user)
    assert closed.value.status == InvitationStatus.ACCEPTED


def test_revoked_expired_and_unknown_tokens_open_nothing(merchant, owner):
    revoked = staff_invite(merchant=merchant, actor=owner, email="a@example.test", role=Role.CASHIER)
    expired = staff_invite(merchant=merchant, actor=owner, email="b@example.test", role=Role.CASHIER)
    invitation_revoke(invitation=revoked.invitation, actor=owner)
    Invitation.objects.filter(pk=expired.invitation.pk).update(expires_at=timezone.now())

    for token, status in ((revoked.token, "revoked"), (expired.token, "expired")):
        with pytest.raises(InvitationClosed) as closed:
            invitation_accept_new(token=token, name="Someone", password=PASSWORD)
        assert closed.value.status == status
    with pytest.raises(NotFound):
        invitation_by_token(token="nothing-like-a-token")
    with pytest.raises(Conflict):
        invitation_revoke(invitation=revoked.invitation, actor=owner)
    assert Staff.objects.filter(merchant=merchant).count() == 1


def test_only_the_invited_address_may_accept(merchant, owner):
    created = staff_invite(merchant=merchant, actor=owner, email="lin@example.test", role=Role.CASHIER)

    with pytest.raises(Conflict, match="sign in with that address"):
        invitation_accept(token=created.token, user=UserFactory.create(email="other@example.test"))
    staff = invitation_accept(token=created.token, user=UserFactory.create(email="LIN@example.test"))

    assert staff.role == Role.CASHIER


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner(merchant, owner):
    second = UserFactory.create()
    staff_add(merchant=merchant, user=second, role=Role.OWNER, actor=owner)
    pairs = [(owner, second), (second, owner)]

    outcomes = race(
        lambda i: staff_role_change(
            merchant=merchant, user=pairs[i][1], role=Role.MANAGER, actor=pairs[i][0]
        ),
        threads=2,
    )

    assert sum(o.ok for o in outcomes) == 1
    # The loser waited for the merchant's lock, then found either one owner left or that
    # it was no longer an owner itself, so no longer allowed to manage staff.
    assert all(isinstance(o.error, LastOwner | RoleForbids) for o in outcomes if not o.ok)
    assert Staff.objects.filter(merchant=merchant, role=Role.OWNER).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_link_opened_twice_at_once_makes_one_account(merchant, owner):
    created = staff_invite(merchant=merchant, actor=owner, email="lin@example.test", role=Role.CASHIER)

    outcomes = race(
        lambda i: invitation_accept_new(token=created.token, name=f"Lin {i}", password=PASSWORD), threads=2
    )

    assert sum(o.ok for o in outcomes) == 1
    assert all(isinstance(o.error, InvitationClosed) for o in outcomes if not o.ok)
    assert Staff.objects.filter(merchant=merchant, user__email="lin@example.test").count() == 1
