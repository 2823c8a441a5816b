"""Signing in as the tests need: an operator whose session a TOTP device verified, a
device's current code, and a password hasher that counts how often it is asked."""

import re
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.sessions import idle_timeout_keep


def totp_device(user: AbstractBaseUser, *, confirmed: bool = True) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Test phone", confirmed=confirmed)


def totp_code(device: TOTPDevice) -> str:
    """The code the device's authenticator app shows now (as time.time() has it)."""
    device.refresh_from_db()
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"


def operator_sign_in(client: Client, user: User) -> TOTPDevice:
    """Signed in to the console as the sign-in page leaves an operator: the code given,
    the session on the staff's idle timeout."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or totp_device(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    idle_timeout_keep(session, settings.STAFF_SESSION_IDLE_SECONDS)
    session.save()
    return device


def mailed_link(path: str) -> str:
    """The path of the link under `path` in the last mail sent (its host left out)."""
    found = re.search(rf"https?://[^/\s]+({re.escape(path)}\S*)", str(mail.outbox[-1].body))
    assert found is not None, mail.outbox[-1].body
    return found.group(1)


class CountingHasher(MD5PasswordHasher):
    """MD5 (as the suite hashes), counting every time a password is hashed: to store it,
    to check it (MD5's `verify` hashes through `encode`), or to check it against nobody's
    (Django hashes once for an unknown username, so that it takes as long)."""

    calls = 0

    def encode(self, password: str, salt: str, *args: Any, **kwargs: Any) -> str:
        CountingHasher.calls += 1
        return super().encode(password, salt, *args, **kwargs)
