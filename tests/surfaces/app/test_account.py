"""The member's account: a new password by mail, a password change, the code step for a
member with a device, and the password again before erasure and card changes."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from loyalty.members.models import Member
from perks.billing.models import MemberStripeCustomer
from tests.factories import JoinedMemberFactory, MerchantFactory, UserFactory
from tests.support.accounts import mailed_link, totp_code, totp_device
from tests.support.billing import deposit_asked, deposit_held, linked_member

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's
NEW_PASSWORD = "plum blossom under snow 42"
LOGIN = reverse("app:login")


@pytest.fixture
def member():
    return JoinedMemberFactory.create(user=UserFactory.create(email="li@example.test"))


def signs_in(client, email, password):
    client.logout()
    response = client.post(LOGIN, {"username": email, "password": password})
    return response.status_code == 302 and SESSION_KEY in client.session


def test_the_sign_in_page_offers_a_new_password(client):
    assert reverse("app:password-reset") in client.get(LOGIN).content.decode()


def test_a_new_password_by_mail_from_asking_to_signing_in(client, member):
    response = client.post(reverse("app:password-reset"), {"email": "li@example.test"}, follow=True)
    assert "a link to choose a new password is on its way" in response.content.decode()

    [message] = mail.outbox
    assert message.to == ["li@example.test"]
    link = mailed_link("/app/password-reset/")
    form_page = client.get(link, follow=True)
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )

    assert "Your new password is set." in done.content.decode()
    assert signs_in(client, "li@example.test", NEW_PASSWORD)
    assert not signs_in(client, "li@example.test", PASSWORD)
    assert "has been used already" in client.get(link, follow=True).content.decode()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client):
    response = client.post(reverse("app:password-reset"), {"email": "nobody@example.test"}, follow=True)

    assert "is on its way" in response.content.decode()
    assert mail.outbox == []


def test_changing_the_password_from_the_account_page(signed_in):
    assert reverse("app:password-change") in signed_in.get(reverse("app:account")).content.decode()

    response = signed_in.post(
        reverse("app:password-change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )

    assert "Your password is changed." in response.content.decode()
    assert signs_in(signed_in, "li@example.test", NEW_PASSWORD)


def test_signed_out_the_password_change_leads_to_the_apps_sign_in(client):
    response = client.get(reverse("app:password-change"))

    assert response["Location"].startswith(LOGIN)


def test_a_member_with_a_device_gives_its_code_after_the_password(client, member):
    device = totp_device(member.user)

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        response = client.post(LOGIN, {"username": "li@example.test", "password": PASSWORD})
        assert response["Location"] == reverse("app:login-token")
        assert SESSION_KEY not in client.session
        assert client.post(reverse("app:login-token"), {"token": "12345x"}).status_code == 200
        traveller.shift(timedelta(seconds=2))  # django-otp waits a moment after a wrong code

        response = client.post(reverse("app:login-token"), {"token": totp_code(device)})

    assert response["Location"] == reverse("app:home")
    assert client.get(reverse("app:home")).status_code == 200


def test_erasure_waits_for_the_password_then_goes_on(signed_in, member):
    asked = signed_in.post(reverse("app:account-delete"))
    assert asked.status_code == 403
    assert 'name="password"' in asked.content.decode()
    assert Member.objects.get(pk=member.pk).erasure_requested_at is None

    signed_in.post(reverse("app:account-delete"), {"password": PASSWORD})

    assert Member.objects.get(pk=member.pk).erasure_requested_at is not None


def test_the_password_covers_sensitive_actions_for_ten_minutes(signed_in, member):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        signed_in.post(reverse("app:password-confirm"), {"password": PASSWORD, "next": "/app/"})
        traveller.shift(timedelta(minutes=9))
        assert 'name="password"' not in signed_in.get(reverse("app:account-delete")).content.decode()
        traveller.shift(timedelta(minutes=2))

        assert signed_in.post(reverse("app:account-delete")).status_code == 403


def test_removing_a_card_waits_for_the_password_then_goes_on(stripe_on, client):
    rental = MerchantFactory.create()
    member = linked_member(rental)
    deposit_held(rental, member)
    customer = MemberStripeCustomer.objects.get(member=member)
    [card] = stripe_on.get("/v1/payment_methods", customer=customer.customer_id, type="card")["data"]
    client.force_login(member.user)
    fields = {"account": customer.stripe_account, "card": card["id"]}

    asked = client.post(reverse("app:card-remove"), fields)

    assert asked.status_code == 403
    assert f'value="{card["id"]}"' in asked.content.decode()  # sent on with the password
    assert len(stripe_on.get("/v1/payment_methods", customer=customer.customer_id, type="card")["data"]) == 1
    wrong = client.post(reverse("app:card-remove"), {**fields, "password": "not it"})
    assert (wrong.status_code, "That is not your password." in wrong.content.decode()) == (400, True)

    client.post(reverse("app:card-remove"), {**fields, "password": PASSWORD})

    assert stripe_on.get("/v1/payment_methods", customer=customer.customer_id, type="card")["data"] == []


def test_adding_a_card_waits_for_the_password(stripe_on, client):
    rental = MerchantFactory.create()
    member = linked_member(rental)
    deposit = deposit_asked(rental, member)
    client.force_login(member.user)

    before = client.get(reverse("app:deposits")).content.decode()
    answer = client.post(reverse("app:deposit-complete", args=[deposit.ref])).json()
    client.post(reverse("app:password-confirm"), {"password": PASSWORD, "next": reverse("app:deposits")})
    after = client.get(reverse("app:deposits")).content.decode()

    assert deposit.client_secret not in before
    assert "client_secret" not in answer
    assert f'data-client-secret="{deposit.client_secret}"' in after
