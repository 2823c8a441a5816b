"""The merchants app's written-out statements (perks/merchants/sql.py) answer as the ORM
code each one replaces, on the same rows."""

from typing import Any

import pytest
from django.db.models import Model
from django.utils import timezone

from perks.merchants.models import ApiKey, MerchantStatus
from perks.merchants.permissions import Role, Scope
from perks.merchants.services import api_key_create, api_key_revoke
from perks.merchants.sql import KEY_BY_PREFIX, key_by_prefix, key_by_prefix_orm
from tests.factories import MerchantFactory, StaffFactory
from tests.support.sql import executed, ran

pytestmark = pytest.mark.django_db


def values(obj: Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def key_and_merchant(key: ApiKey | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """What authentication reads of `key`, its merchant included (already loaded: no query)."""
    return None if key is None else (values(key), values(key.merchant))


def test_a_key_is_found_by_its_prefix_as_the_orm_finds_it(merchant, owner, django_assert_num_queries):
    live = api_key_create(merchant=merchant, actor=owner, name="Till 1", scopes=Scope.values).key
    ApiKey.objects.filter(pk=live.pk).update(last_used_at=timezone.now())
    revoked = api_key_create(merchant=merchant, actor=owner, name="Till 2", scopes=[]).key
    api_key_revoke(key=revoked, actor=owner)
    elsewhere = MerchantFactory.create()
    suspended = api_key_create(
        merchant=elsewhere,
        actor=StaffFactory.create(merchant=elsewhere, role=Role.OWNER).user,
        name="Elsewhere",
        scopes=[Scope.REDEMPTIONS_WRITE],
    ).key
    elsewhere.status = MerchantStatus.SUSPENDED
    elsewhere.save(update_fields=["status"])

    for prefix in (live.prefix, revoked.prefix, suspended.prefix, "000000000000"):
        with executed() as texts:
            written_out = key_by_prefix(prefix)
        assert ran(KEY_BY_PREFIX, texts)
        orm = key_by_prefix_orm(prefix)
        with django_assert_num_queries(0):
            assert key_and_merchant(written_out) == key_and_merchant(orm), prefix
    assert key_by_prefix(live.prefix) is not None
