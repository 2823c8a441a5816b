"""Secrets at rest: encrypted with the first of ENCRYPTION_KEYS, opened with any, checked at startup."""

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from loyalty.core.checks import ENCRYPTION_KEYS_DERIVED
from loyalty.core.crypto import DecryptionFailed, decrypt, encrypt, keys_derived

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_a_value_is_kept_as_a_fresh_token_and_read_back(settings):
    settings.ENCRYPTION_KEYS = [NEW]

    first, second = encrypt("whsec_abc"), encrypt("whsec_abc")

    assert "whsec_abc" not in first
    assert first != second  # nothing to compare two rows by
    assert decrypt(first) == decrypt(second) == "whsec_abc"
    assert Fernet(NEW).decrypt(first.encode()) == b"whsec_abc"  # the first key made it


def test_after_a_new_key_is_put_first_old_values_still_open_and_new_ones_use_it(settings):
    settings.ENCRYPTION_KEYS = [OLD]
    before = encrypt("whsec_abc")

    settings.ENCRYPTION_KEYS = [NEW, OLD]

    assert decrypt(before) == "whsec_abc"
    assert Fernet(NEW).decrypt(encrypt("whsec_def").encode()) == b"whsec_def"


def test_a_value_whose_key_was_removed_fails_with_what_to_do(settings):
    settings.ENCRYPTION_KEYS = [OLD]
    token = encrypt("whsec_abc")

    settings.ENCRYPTION_KEYS = [NEW]

    with pytest.raises(DecryptionFailed, match="rotate_encryption_keys"):
        decrypt(token)


def test_without_keys_one_is_derived_from_the_secret_key_and_kept_to_decrypt(settings):
    settings.ENCRYPTION_KEYS = []
    derived = encrypt("whsec_abc")
    assert keys_derived()

    settings.ENCRYPTION_KEYS = [NEW]  # an install moving to keys of its own
    assert decrypt(derived) == "whsec_abc"
    assert not keys_derived()

    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]  # SECRET_KEY rotated Django's way
    settings.SECRET_KEY = "another secret key, long enough to be one"
    assert decrypt(derived) == "whsec_abc"

    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(DecryptionFailed):
        decrypt(derived)


@pytest.mark.parametrize(
    "keys",
    [
        ["not-a-key"],
        [NEW, "c2hvcnQ="],  # base64, but 5 bytes
        [NEW, NEW[:-2] + "!!"],  # not url-safe base64
    ],
)
def test_a_malformed_key_stops_startup_naming_its_place_never_its_value(settings, keys):
    settings.ENCRYPTION_KEYS = keys

    with pytest.raises(ImproperlyConfigured) as refused:
        apps.get_app_config("core").ready()

    message = str(refused.value)
    assert f"key {len(keys)} of {len(keys)} is not a Fernet key" in message
    assert "Fernet.generate_key()" in message
    assert keys[-1] not in message


def test_blank_entries_are_ignored(settings):
    settings.ENCRYPTION_KEYS = ["", f" {NEW} "]

    assert Fernet(NEW).decrypt(encrypt("whsec_abc").encode()) == b"whsec_abc"


def test_check_deploy_warns_while_the_key_is_derived_from_the_secret_key(settings):
    def warned() -> bool:
        return any(m.id == ENCRYPTION_KEYS_DERIVED for m in run_checks(include_deployment_checks=True))

    settings.ENCRYPTION_KEYS = []
    assert warned()
    assert not any(m.id == ENCRYPTION_KEYS_DERIVED for m in run_checks())  # a deploy check only

    settings.ENCRYPTION_KEYS = [NEW]
    assert not warned()
