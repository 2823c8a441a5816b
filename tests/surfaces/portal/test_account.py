"""The portal account of a merchant's staff: a new password by mail, a password change, and
two-factor sign-in, offered to owners and then required of them at every sign-in."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from perks.merchants.permissions import Role
from tests.factories import StaffFactory, UserFactory
from tests.support.accounts import mailed_link, totp_code

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's
NEW_PASSWORD = "plum blossom under snow 42"
LOGIN = reverse("portal:login")
ACCOUNT = reverse("portal:account")
ENROL = reverse("portal:totp-enrol")


def staff(role):
    return StaffFactory.create(role=role, user=UserFactory.create(email=f"{role}@shop.test")).user


def password_step(client, user, password=PASSWORD):
    client.logout()
    return client.post(LOGIN, {"username": user.username, "password": password})


def test_a_new_password_by_mail_leads_back_to_the_portal(client):
    cashier = staff(Role.CASHIER)
    assert reverse("portal:password-reset") in client.get(LOGIN).content.decode()

    client.post(reverse("portal:password-reset"), {"email": "cashier@shop.test"})
    assert len(mail.outbox) == 1
    link = mailed_link("/portal/password-reset/")
    form_page = client.get(link, follow=True)
    client.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )

    assert password_step(client, cashier, NEW_PASSWORD)["Location"] == reverse("portal:home")


def test_changing_the_password_from_the_account_page(client):
    manager = staff(Role.MANAGER)
    client.force_login(manager)
    assert reverse("portal:password-change") in client.get(ACCOUNT).content.decode()

    response = client.post(
        reverse("portal:password-change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )

    assert "Your password is changed." in response.content.decode()
    assert password_step(client, manager, NEW_PASSWORD)["Location"] == reverse("portal:home")


def test_signed_out_the_account_pages_lead_to_the_portals_sign_in(client):
    for url in (ACCOUNT, ENROL, reverse("portal:password-change")):
        assert client.get(url)["Location"].startswith(LOGIN)


def test_two_factor_is_offered_to_owners_only(client):
    client.force_login(staff(Role.CASHIER))
    assert ENROL not in client.get(ACCOUNT).content.decode()
    assert client.get(ENROL)["Location"] == ACCOUNT

    client.force_login(staff(Role.OWNER))
    assert ENROL in client.get(ACCOUNT).content.decode()


def test_an_owner_turns_two_factor_on_and_from_then_on_signing_in_asks_for_the_code(client):
    owner = staff(Role.OWNER)
    assert password_step(client, owner)["Location"] == reverse("portal:home")  # not enrolled: password only

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        page = client.get(ENROL)
        assert 'class="qr"><svg' in page.content.decode()
        device = TOTPDevice.objects.get(user=owner, confirmed=False)
        assert client.post(ENROL, {"token": "12345x"}).status_code == 400
        traveller.shift(timedelta(seconds=2))  # django-otp waits a moment after a wrong code
        client.post(ENROL, {"token": totp_code(device)})
        assert "Two-factor sign-in" in client.get(ACCOUNT).content.decode()
        assert TOTPDevice.objects.get(pk=device.pk).confirmed

        traveller.shift(timedelta(seconds=30))  # a code is good once: the app's next one
        response = password_step(client, owner)
        assert response["Location"] == reverse("portal:login-token")
        assert SESSION_KEY not in client.session
        assert client.get(reverse("portal:home"))["Location"] == LOGIN

        response = client.post(reverse("portal:login-token"), {"token": totp_code(device)})

    assert response["Location"] == reverse("portal:home")
    assert client.session[SESSION_KEY] == str(owner.pk)


def test_the_code_step_lapses_after_five_minutes(client):
    owner = staff(Role.OWNER)
    device = TOTPDevice.objects.create(user=owner, name="phone", confirmed=True)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        password_step(client, owner)
        traveller.shift(timedelta(minutes=6))

        response = client.post(reverse("portal:login-token"), {"token": totp_code(device)})

    assert response["Location"] == LOGIN
    assert SESSION_KEY not in client.session
