"""Who is calling: `Authorization: Bearer <api key>` → the key, its merchant and its scopes.

A wrong, revoked or suspended merchant's key costs one indexed look-up and a constant-time
comparison (`api_key_authenticate`), never a password hasher. Reads need only a key;
writes need the scope the view declares as `write_scope`. Refused keys are counted by
client address, and past API_KEY_FAILURE_LIMIT answered 429 instead of 401
(`surfaces.api.throttling.key_refusal_count`); a good key never touches that count.
"""

from dataclasses import dataclass
from typing import NoReturn

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from perks.merchants.errors import ScopeMissing
from perks.merchants.models import ApiKey, Merchant
from perks.merchants.services import api_key_authenticate
from surfaces.api.throttling import key_refusal_count

SCHEME = "Bearer"
_HOW_TO_SEND = f"Send your API key as 'Authorization: {SCHEME} <api key>'."


@dataclass(frozen=True)
class Partner:
    """`request.user` for the API: the calling key's merchant (`request.auth` is the key)."""

    merchant: Merchant
    is_authenticated = True


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Partner, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != SCHEME.lower() or not token.strip():
            _refuse(request, _HOW_TO_SEND)
        key = api_key_authenticate(token.strip())
        if key is None:
            _refuse(
                request, "This API key is not valid: it is wrong or revoked, or its merchant is suspended."
            )
        return Partner(merchant=key.merchant), key

    def authenticate_header(self, request: Request) -> str:
        return f'{SCHEME} realm="perkline"'


def _refuse(request: Request, message: str) -> NoReturn:
    """401 with `message`, or 429 once this address has had too many keys refused."""
    key_refusal_count(request)
    raise AuthenticationFailed(message)


class KeyRequired(BasePermission):
    """Every API call needs a key: 401, saying how to send one."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not isinstance(request.auth, ApiKey):
            raise NotAuthenticated(_HOW_TO_SEND)
        return True


class WriteScopeRequired(BasePermission):
    """A write needs the view's `write_scope` (None: any key may, as for /validations)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        method = (request.method or "").lower()
        if request.method in SAFE_METHODS or not hasattr(view, method):
            return True  # a read, or a method the view does not take: 405 follows
        scope = getattr(view, "write_scope", None)
        key = request.auth
        if isinstance(scope, str) and isinstance(key, ApiKey) and scope not in key.scopes:
            raise ScopeMissing(f"This API key needs the {scope} scope.")
        return True
