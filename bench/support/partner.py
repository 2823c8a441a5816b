import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from perks.merchants.models import Merchant
from perks.merchants.permissions import Scope
from perks.merchants.services import api_key_create, merchant_create


@dataclass(frozen=True)
class BenchPartner:
    merchant: Merchant
    owner: User
    key: str


def bench_partner(name: str = "Bench Coffee") -> BenchPartner:
    """A merchant with an owner and a key holding every scope, made through the services."""
    owner = get_user_model().objects.create_user(
        username=f"owner-{secrets.token_hex(4)}@bench.test", password=secrets.token_urlsafe(16)
    )
    merchant = merchant_create(
        name=name, category="coffee", owner=owner, slug=f"bench-{secrets.token_hex(4)}"
    )
    key = api_key_create(merchant=merchant, actor=owner, name="Bench POS", scopes=Scope.values).plaintext
    return BenchPartner(merchant=merchant, owner=owner, key=key)


def partner_key(name: str = "Bench Coffee") -> str:
    return bench_partner(name).key
