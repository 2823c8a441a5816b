"""Staff in the portal: an owner invites by e-mail, the invited person joins by the mailed
link, roles change, people leave, and a merchant always keeps an owner."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from perks.merchants.models import AuditEntry, Invitation, InvitationStatus, Staff
from perks.merchants.permissions import Role
from perks.merchants.services import staff_invite
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a tram through the old town"
LINK = re.compile(r"https?://[^/\s]+(/portal/invitations/[^/\s]+/)")


@pytest.fixture
def owner(client):
    staff = StaffFactory.create(role=Role.OWNER, merchant__name="Blue Kettle")
    client.force_login(staff.user)
    return staff


def _invite(client, owner, email="till@example.test", role=Role.CASHIER):
    return client.post(reverse("portal:staff", args=[owner.merchant.slug]), {"email": email, "role": role})


def _mailed_path() -> str:
    match = LINK.search(str(mail.outbox[-1].body))
    assert match is not None, mail.outbox[-1].body
    return match.group(1)


def test_an_owner_invites_a_cashier_who_joins_by_the_mailed_link(client, owner):
    response = _invite(client, owner)

    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == ["till@example.test"]
    assert "Blue Kettle" in message.subject
    assert "as Cashier" in message.body
    path = _mailed_path()
    invitation = Invitation.objects.get()
    assert path.split("/")[-2] not in invitation.token_hash  # only a hash of the token is kept
    assert len(invitation.token_hash) == 64
    staff_page = client.get(reverse("portal:staff", args=[owner.merchant.slug])).content.decode()
    assert "till@example.test" in staff_page
    assert "Revoke the invitation of till@example.test" in staff_page

    client.logout()
    page = client.get(path)
    assert page.status_code == 200
    assert "Set up your account" in page.content.decode()
    joined = client.post(path, {"name": "Lin Till", "password": PASSWORD, "password_again": PASSWORD})

    assert joined.status_code == 302
    assert joined["Location"] == reverse("portal:counter", args=[owner.merchant.slug])
    staff = Staff.objects.get(merchant=owner.merchant, user__email="till@example.test")
    assert (staff.role, staff.user.first_name) == (Role.CASHIER, "Lin Till")
    assert Invitation.objects.get().status == InvitationStatus.ACCEPTED
    assert client.get(joined["Location"]).status_code == 200  # signed in, at the counter
    client.logout()
    signed_in = client.post(reverse("portal:login"), {"username": "till@example.test", "password": PASSWORD})
    assert signed_in.status_code == 302  # the password chosen on the invitation page works
    actions = list(AuditEntry.objects.filter(merchant=owner.merchant).values_list("action", flat=True))
    assert {"staff.invited", "staff.joined"} <= set(actions)


def test_a_used_link_is_refused_with_a_page_that_says_so(client, owner):
    _invite(client, owner)
    path = _mailed_path()
    client.logout()
    client.post(path, {"name": "Lin", "password": PASSWORD, "password_again": PASSWORD})
    client.logout()

    again = client.get(path)

    assert again.status_code == 410
    assert "It was already used" in again.content.decode()
    assert Staff.objects.filter(merchant=owner.merchant).count() == 2


def test_an_expired_link_is_refused(client, owner):
    _invite(client, owner)
    path = _mailed_path()
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    client.logout()

    page = client.get(path)
    posted = client.post(path, {"name": "Lin", "password": PASSWORD, "password_again": PASSWORD})

    assert page.status_code == posted.status_code == 410
    assert "It has expired" in page.content.decode()
    assert not Staff.objects.filter(user__email="till@example.test").exists()


def test_a_revoked_link_is_refused_and_an_unknown_one_is_not_found(client, owner):
    _invite(client, owner)
    path = _mailed_path()
    invitation = Invitation.objects.get()
    revoke = reverse("portal:invitation-revoke", args=[owner.merchant.slug, invitation.pk])

    assert client.post(revoke).status_code == 302
    client.logout()
    page = client.get(path)
    unknown = client.get(reverse("portal:invitation", args=["not-a-token"]))

    assert page.status_code == 410
    assert "It was revoked" in page.content.decode()
    assert unknown.status_code == 404
    assert "does not open an invitation" in unknown.content.decode()
    assert AuditEntry.objects.filter(action="staff.invitation_revoked", target="till@example.test").exists()


def test_one_pending_invitation_per_address_and_none_for_staff(client, owner):
    _invite(client, owner, email="Till@Example.test")
    again = _invite(client, owner, email="till@example.test")
    staff_member = _invite(client, owner, email=owner.user.email)

    assert again.status_code == 200
    assert "already invited" in again.content.decode()
    assert "already staff here" in staff_member.content.decode()
    assert Invitation.objects.count() == 1
    assert len(mail.outbox) == 1


def test_an_expired_invitation_gives_way_to_a_new_one(client, owner):
    _invite(client, owner)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    _invite(client, owner)

    assert sorted(Invitation.objects.values_list("status", flat=True)) == ["expired", "pending"]
    assert len(mail.outbox) == 2


def test_someone_with_an_account_signs_in_to_accept(client, owner):
    existing = UserFactory.create(email="manager@example.test")
    _invite(client, owner, email="manager@example.test", role=Role.MANAGER)
    path = _mailed_path()
    client.logout()

    page = client.get(path).content.decode()
    assert "Sign in to accept" in page
    assert f"{reverse('portal:login')}?next={path}" in page
    refused = client.post(path, {"name": "Someone", "password": PASSWORD, "password_again": PASSWORD})
    assert "already has an account" in refused.content.decode()

    client.force_login(existing)
    joined = client.post(path)

    assert joined["Location"] == reverse("portal:dashboard", args=[owner.merchant.slug])
    assert Staff.objects.get(merchant=owner.merchant, user=existing).role == Role.MANAGER


def test_someone_signed_in_with_another_address_cannot_accept(client, owner):
    _invite(client, owner)
    path = _mailed_path()
    client.force_login(UserFactory.create(email="someone.else@example.test"))

    page = client.get(path).content.decode()
    client.post(path)

    assert "You are signed in as someone.else@example.test" in page
    assert not Staff.objects.filter(merchant=owner.merchant, user__email="someone.else@example.test").exists()
    assert Invitation.objects.get().status == InvitationStatus.PENDING


def test_a_weak_or_mistyped_password_is_refused_beside_its_field(client, owner):
    _invite(client, owner)
    path = _mailed_path()
    client.logout()

    weak = client.post(path, {"name": "Lin", "password": "12345678", "password_again": "12345678"})
    mistyped = client.post(path, {"name": "Lin", "password": PASSWORD, "password_again": PASSWORD + "!"})

    assert weak.status_code == mistyped.status_code == 400
    assert weak.context["form"].errors["password"]
    assert mistyped.context["form"].errors["password_again"] == [
        "The two passwords differ; type the same one twice."
    ]
    assert Invitation.objects.get().status == InvitationStatus.PENDING


def test_an_owner_changes_a_role_and_removes_staff(client, owner):
    cashier = StaffFactory.create(merchant=owner.merchant, role=Role.CASHIER)
    slug = owner.merchant.slug

    client.post(reverse("portal:staff-role", args=[slug, cashier.pk]), {"role": Role.MANAGER})
    assert Staff.objects.get(pk=cashier.pk).role == Role.MANAGER
    unconfirmed = client.post(reverse("portal:staff-remove", args=[slug, cashier.pk]), follow=True)
    assert "Tick the box" in unconfirmed.content.decode()
    assert Staff.objects.filter(pk=cashier.pk).exists()
    client.post(reverse("portal:staff-remove", args=[slug, cashier.pk]), {"confirm": "on"})

    assert not Staff.objects.filter(pk=cashier.pk).exists()
    actions = set(AuditEntry.objects.filter(merchant=owner.merchant).values_list("action", flat=True))
    assert {"staff.role_changed", "staff.removed"} <= actions


def test_the_last_owner_can_be_neither_demoted_nor_removed_in_the_portal(client, owner):
    slug = owner.merchant.slug

    demoted = client.post(
        reverse("portal:staff-role", args=[slug, owner.pk]), {"role": Role.MANAGER}, follow=True
    )
    removed = client.post(
        reverse("portal:staff-remove", args=[slug, owner.pk]), {"confirm": "on"}, follow=True
    )

    assert "at least one owner" in demoted.content.decode()
    assert "at least one owner" in removed.content.decode()
    assert Staff.objects.get(pk=owner.pk).role == Role.OWNER


def test_another_merchants_staff_and_invitations_are_not_found(client, owner):
    elsewhere = StaffFactory.create(role=Role.OWNER)
    invited = staff_invite(
        merchant=elsewhere.merchant, actor=elsewhere.user, email="x@example.test", role="cashier"
    )
    slug = owner.merchant.slug

    role = client.post(reverse("portal:staff-role", args=[slug, elsewhere.pk]), {"role": Role.CASHIER})
    revoke = client.post(reverse("portal:invitation-revoke", args=[slug, invited.invitation.pk]))

    assert role.status_code == revoke.status_code == 404
    assert Staff.objects.get(pk=elsewhere.pk).role == Role.OWNER
    assert Invitation.objects.get().status == InvitationStatus.PENDING


def test_a_manager_may_not_open_the_staff_page(client, owner):
    manager = StaffFactory.create(merchant=owner.merchant, role=Role.MANAGER)
    client.force_login(manager.user)

    assert client.get(reverse("portal:staff", args=[owner.merchant.slug])).status_code == 403
    assert _invite(client, owner).status_code == 403
    assert mail.outbox == []
