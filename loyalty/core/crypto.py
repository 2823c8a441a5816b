"""Secrets kept at rest, encrypted with keys that rotate (docs/operations.md, Secrets at rest).

A value is a Fernet token (AES-128-CBC with HMAC-SHA256, from `cryptography`) made with
the first key of ENCRYPTION_KEYS and opened with any of them (`MultiFernet`). So a key
rotates in three steps: put a new key first, run `manage.py rotate_encryption_keys`,
which encrypts every value again with it, then remove the old key. A key is a Fernet
key, 32 random bytes in url-safe base64, as `Fernet.generate_key()` makes; anything else
stops the process at startup.

Without ENCRYPTION_KEYS a key is derived from SECRET_KEY (HKDF-SHA256), and `check
--deploy` warns: whoever reads SECRET_KEY could then read these secrets too. The keys
derived from SECRET_KEY and SECRET_KEY_FALLBACKS always stay at the end of the list, to
decrypt only, so an install that began without ENCRYPTION_KEYS moves to its own keys by
setting them and running the rotation, and a rotation of SECRET_KEY done Django's way
(the old one kept in SECRET_KEY_FALLBACKS) loses nothing either.

`EncryptedTextField` is how a model keeps such a value: the column holds the token,
Python sees the plaintext.
"""

import base64
import hashlib
from collections.abc import Callable
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import migrations, models, transaction
from django.db.models import Lookup
from django.dispatch import receiver
from django.utils.encoding import force_bytes

GENERATE_COMMAND = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
# Binds a derived key to this use, so it differs from anything else made of SECRET_KEY.
_DERIVATION_INFO = b"perkline encryption key"
# The settings the keys are made from: when one changes (tests), the keys are made again.
_KEY_SETTINGS = frozenset({"ENCRYPTION_KEYS", "SECRET_KEY", "SECRET_KEY_FALLBACKS"})
ROTATION_BATCH = 500


class DecryptionFailed(Exception):
    """No key held opens the value: its key was removed before the rotation ran, or the
    value was altered."""


def secret_digest(secret: str) -> str:
    """What is stored of a bearer secret Perkline made from 128 bits of randomness or more
    (an API key, a staff invitation's token): its SHA-256, hex. No salt and no stretching:
    those slow down guessing a password, and nobody guesses 128 random bits."""
    return hashlib.sha256(secret.encode()).hexdigest()


def encrypt(plaintext: str) -> str:
    """`plaintext` as a token of the newest key (a fresh one each time, even for the same text)."""
    return _keys().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """The plaintext of `token`, made with any key held."""
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed(
            "No key in ENCRYPTION_KEYS, nor any derived from SECRET_KEY, decrypts this value: "
            "was its key removed before `manage.py rotate_encryption_keys` ran?"
        ) from None


def keys_derived() -> bool:
    """Whether values are encrypted with a key derived from SECRET_KEY (no ENCRYPTION_KEYS)."""
    return not _own_keys()


def keys_validate() -> None:
    """Make the keys now, so a malformed one stops the process at startup, not at the first
    webhook (ImproperlyConfigured, naming the key by its place, never by its value)."""
    _keys()


@cache
def _keys() -> MultiFernet:
    """Made once a process (HKDF and the key checks are not free), again when a key setting
    changes."""
    own = _own_keys()
    fernets = [_fernet(key, place, len(own)) for place, key in enumerate(own, start=1)]
    for secret_key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
        fernets.append(Fernet(_derived(secret_key)))
    return MultiFernet(fernets)


def _own_keys() -> list[str]:
    return [key.strip() for key in settings.ENCRYPTION_KEYS if key.strip()]


def _fernet(key: str, place: int, count: int) -> Fernet:
    try:
        return Fernet(key)
    except ValueError:  # also binascii.Error, for what is not base64 at all
        raise ImproperlyConfigured(
            f"ENCRYPTION_KEYS: key {place} of {count} is not a Fernet key (32 random bytes in url-safe "
            f"base64, 44 characters). Make one with: {GENERATE_COMMAND}"
        ) from None


def _derived(secret_key: str | bytes) -> bytes:
    """A Fernet key made of a SECRET_KEY: 32 bytes of HKDF-SHA256, in url-safe base64."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DERIVATION_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(force_bytes(secret_key)))


@receiver(setting_changed)
def _keys_forget(*, setting: str, **kwargs: Any) -> None:
    if setting in _KEY_SETTINGS:
        _keys.cache_clear()


class EncryptedTextField(models.TextField):
    """Text kept encrypted: the column holds a token of the newest key, Python the plaintext.

    As each write makes another token, the column cannot be searched: lookups other than
    `isnull` are refused rather than silently matching nothing."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)

    def get_lookup(self, lookup_name: str) -> type[Lookup] | None:
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None


def encrypted_values_rotate(*, batch_size: int = ROTATION_BATCH) -> dict[str, int]:
    """Encrypt every value of every `EncryptedTextField` again with the newest key; how
    many rows of each model (by label). A batch at a time, its rows locked in a transaction
    of its own, so a write in between is neither undone nor blocked for long."""
    return {
        model._meta.label: _rows_reencrypt(model, names, batch_size) for model, names in _encrypted_columns()
    }


def _encrypted_columns() -> list[tuple[type[models.Model], list[str]]]:
    found = []
    for model in apps.get_models():
        names = [field.name for field in model._meta.concrete_fields if isinstance(field, EncryptedTextField)]
        if names:
            found.append((model, names))
    return found


def _rows_reencrypt(model: type[models.Model], names: list[str], batch_size: int) -> int:
    done, after = 0, None
    while True:
        with transaction.atomic():
            rows = model._base_manager.select_for_update().only("pk", *names).order_by("pk")
            batch = list((rows if after is None else rows.filter(pk__gt=after))[:batch_size])
            model._base_manager.bulk_update(batch, names)  # read plain, written with the newest key
        if not batch:
            return done
        done, after = done + len(batch), batch[-1].pk


def column_encryption(app_label: str, model_name: str, field_name: str) -> migrations.RunPython:
    """The data step of a migration that makes a plain text column an `EncryptedTextField`:
    every row encrypted forwards, decrypted backwards, a batch at a time. It runs between an
    `AlterField` to a `TextField` (room for a token) and one to the `EncryptedTextField`
    (which changes nothing in the database), while the migration's model still reads the
    column as plain text. Every row is rewritten, empty values too, since the field
    decrypts whatever its column holds."""

    def rewrite(historical_apps: Any, change: Callable[[str], str]) -> None:
        model = historical_apps.get_model(app_label, model_name)
        rows = model.objects.only("pk", field_name).order_by("pk")
        batch = list(rows[:ROTATION_BATCH])
        while batch:
            for row in batch:
                setattr(row, field_name, change(getattr(row, field_name)))
            model.objects.bulk_update(batch, [field_name])
            batch = list(rows.filter(pk__gt=batch[-1].pk)[:ROTATION_BATCH])

    def forwards(historical_apps: Any, schema_editor: Any) -> None:
        rewrite(historical_apps, encrypt)

    def backwards(historical_apps: Any, schema_editor: Any) -> None:
        rewrite(historical_apps, decrypt)

    return migrations.RunPython(forwards, backwards, elidable=False)
