"""API keys: shown once, kept as a SHA-256, found by a short public prefix.

A key is `pk_live_<prefix>_<secret>`: 12 + 32 random Crockford symbols (60 + 160 bits).
The secret has far more entropy than any password, so a fast hash is the right one (a
slow password hasher would only slow down every API request); the prefix is indexed so
authentication is one query, and the comparison is constant-time.
"""

import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from loyalty.core.crypto import secret_digest
from loyalty.core.errors import Invalid
from loyalty.core.refs import CROCKFORD
from perks.merchants.errors import KeyAlreadyRevoked
from perks.merchants.models import ApiKey, Merchant, MerchantStatus
from perks.merchants.permissions import Permission, Scope
from perks.merchants.services.access import actor_require, audit_record
from perks.merchants.sql import key_by_prefix

KEY_LABEL = "pk_live_"
PREFIX_LENGTH = 12
SECRET_LENGTH = 32
MAX_ACTIVE_KEYS = 25
# last_used_at is a hint for people ("used 3 minutes ago"), not an audit log: one write a minute.
LAST_USED_RESOLUTION = timedelta(minutes=1)

_SYMBOL = f"[{CROCKFORD}]"
_KEY_FORMAT = re.compile(rf"{KEY_LABEL}({_SYMBOL}{{{PREFIX_LENGTH}}})_{_SYMBOL}{{{SECRET_LENGTH}}}")
# Compared against when the prefix is unknown, so that case costs what a wrong secret costs.
_NO_SUCH_KEY_HASH = secret_digest("no such key")


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    plaintext: str


def api_key_create(*, merchant: Merchant, actor: User, name: str, scopes: Iterable[str]) -> CreatedKey:
    """A new key; `plaintext` is the only copy of the secret that will ever exist."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.KEYS_MANAGE)
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid("Give the key a name of 1–100 characters, such as 'Front desk POS'.", param="name")
    chosen = sorted(set(scopes))
    unknown = [s for s in chosen if s not in Scope.values]
    if unknown:
        raise Invalid(f"Unknown scope {unknown[0]!r}; one of {', '.join(Scope.values)}.", param="scopes")
    with transaction.atomic():
        if ApiKey.objects.filter(merchant=merchant, revoked_at__isnull=True).count() >= MAX_ACTIVE_KEYS:
            raise Invalid(f"A merchant may have at most {MAX_ACTIVE_KEYS} active keys; revoke one first.")
        prefix = _random(PREFIX_LENGTH)
        plaintext = f"{KEY_LABEL}{prefix}_{_random(SECRET_LENGTH)}"
        key = ApiKey.objects.create(
            merchant=merchant,
            name=name,
            prefix=prefix,
            secret_hash=secret_digest(plaintext),
            scopes=chosen,
            created_by=actor,
        )
        audit_record(
            merchant=merchant, actor=actor, action="key.created", target=prefix, params={"scopes": chosen}
        )
    return CreatedKey(key=key, plaintext=plaintext)


def api_key_revoke(*, key: ApiKey, actor: User) -> ApiKey:
    actor_require(actor=actor, merchant=key.merchant, permission=Permission.KEYS_MANAGE)
    now = timezone.now()
    with transaction.atomic():
        if not ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now):
            raise KeyAlreadyRevoked()
        audit_record(merchant=key.merchant, actor=actor, action="key.revoked", target=key.prefix)
    key.revoked_at = now
    return key


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The live key `raw` is, with its merchant loaded, or None; never says which part was wrong."""
    match = _KEY_FORMAT.fullmatch(raw.strip()) if raw else None
    if match is None:
        return None
    key = key_by_prefix(match.group(1))
    presented = secret_digest(raw.strip())
    matches = hmac.compare_digest(key.secret_hash if key else _NO_SUCH_KEY_HASH, presented)
    if key is None or not matches or key.is_revoked or key.merchant.status == MerchantStatus.SUSPENDED:
        return None
    _touch(key)
    return key


def _touch(key: ApiKey) -> None:
    now = timezone.now()
    stale = now - LAST_USED_RESOLUTION
    if key.last_used_at is not None and key.last_used_at > stale:
        return
    fresh = Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale)
    ApiKey.objects.filter(fresh, pk=key.pk).update(last_used_at=now)
    key.last_used_at = now


def _random(length: int) -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(length))
