import secrets

from django.contrib.auth import get_user_model

from perks.merchants.permissions import Scope
from perks.merchants.services import api_key_create, merchant_create


def partner_key(name: str = "Bench Coffee") -> str:
    """A merchant with an owner and a key holding every scope, made through the services."""
    owner = get_user_model().objects.create_user(
        username=f"owner-{secrets.token_hex(4)}@bench.test", password=secrets.token_urlsafe(16)
    )
    merchant = merchant_create(
        name=name, category="coffee", owner=owner, slug=f"bench-{secrets.token_hex(4)}"
    )
    return api_key_create(merchant=merchant, actor=owner, name="Bench POS", scopes=Scope.values).plaintext
