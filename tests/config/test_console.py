"""The operator console asks for a TOTP code: an operator's device verifies the session, a
password alone never opens it, and an operator without a device is led to enrol one (from
the console where `ADMIN_TOTP_SELF_ENROL` allows, otherwise by `manage.py totp_enrol`)."""

from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory
from tests.support.accounts import totp_code, totp_device

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's
INDEX = reverse("admin:index")
LOGIN = reverse("admin:login")


@pytest.fixture
def operator():
    return UserFactory.create(email="ops@example.test", is_staff=True, is_superuser=True)


def sign_in(client, operator, code=""):
    return client.post(
        LOGIN, {"username": operator.username, "password": PASSWORD, "otp_token": code, "next": INDEX}
    )


def test_the_password_and_the_code_open_the_console(client, operator):
    device = totp_device(operator)

    response = sign_in(client, operator, totp_code(device))

    assert response.status_code == 302
    assert client.get(INDEX).status_code == 200


@pytest.mark.parametrize("code", ["", "12345x"])
def test_an_operator_with_a_device_is_refused_without_the_right_code(client, operator, code):
    totp_device(operator)

    response = sign_in(client, operator, code)

    assert response.status_code == 200
    assert response.context["form"].errors
    assert client.get(INDEX).status_code == 302


def test_a_session_signed_in_by_password_alone_is_not_let_in(client, operator):
    totp_device(operator)
    client.force_login(operator)

    response = client.get(INDEX)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_an_operator_without_a_device_enrols_one_and_is_let_in(client, settings, operator):
    settings.ADMIN_TOTP_SELF_ENROL = True

    response = sign_in(client, operator)
    response = client.get(response["Location"], follow=True)

    assert response.redirect_chain[-1][0] == reverse("admin:totp-enrol")
    assert 'class="qr"><svg' in response.content.decode()
    device = TOTPDevice.objects.get(user=operator, confirmed=False)
    assert client.get(INDEX).status_code == 302  # not before the first code

    confirmed = client.post(reverse("admin:totp-enrol"), {"token": totp_code(device)})

    assert confirmed["Location"] == INDEX
    assert client.get(INDEX).status_code == 200
    assert TOTPDevice.objects.get(pk=device.pk).confirmed


def test_with_self_enrolment_off_the_operator_is_told_to_ask_for_the_command(client, settings, operator):
    settings.ADMIN_TOTP_SELF_ENROL = False
    sign_in(client, operator)

    response = client.get(reverse("admin:totp-enrol"))
    refused = client.post(reverse("admin:totp-enrol"), {"token": "123456"})

    assert "manage.py totp_enrol ops@example.test" in response.content.decode()
    assert 'class="qr"' not in response.content.decode()
    assert refused.status_code == 200
    assert not TOTPDevice.objects.filter(user=operator).exists()
    assert client.get(INDEX).status_code == 302


def test_the_command_gives_an_operator_a_device_whose_code_opens_the_console(client, operator):
    out = StringIO()

    call_command("totp_enrol", operator.username, stdout=out)

    device = TOTPDevice.objects.get(user=operator)
    assert device.confirmed
    assert device.config_url in out.getvalue()
    assert sign_in(client, operator, totp_code(device)).status_code == 302
    assert client.get(INDEX).status_code == 200


def test_the_command_replaces_a_device_only_when_asked(operator):
    first = totp_device(operator)

    with pytest.raises(CommandError, match="--replace"):
        call_command("totp_enrol", operator.username, stdout=StringIO())
    call_command("totp_enrol", operator.username, "--replace", stdout=StringIO())

    assert not TOTPDevice.objects.filter(pk=first.pk).exists()
    assert TOTPDevice.objects.filter(user=operator, confirmed=True).count() == 1


def test_a_code_is_good_once(client, operator):
    device = totp_device(operator)
    with time_machine.travel("2026-03-01 09:00:05Z", tick=False):
        code = totp_code(device)
        sign_in(client, operator, code)
        client.logout()

        replayed = sign_in(client, operator, code)

    assert replayed.status_code == 200
    assert client.get(INDEX).status_code == 302
