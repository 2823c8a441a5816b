import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.core.errors import Invalid
from perks.merchants.errors import KeyAlreadyRevoked, RoleForbids
from perks.merchants.models import ApiKey, MerchantStatus
from perks.merchants.permissions import Scope
from perks.merchants.services import api_key_authenticate, api_key_create, api_key_revoke
from perks.merchants.services.keys import KEY_LABEL

pytestmark = pytest.mark.django_db


@pytest.fixture
def created(merchant, owner):
    return api_key_create(merchant=merchant, actor=owner, name="Front desk", scopes=[Scope.REDEMPTIONS_WRITE])


def test_the_plaintext_is_returned_once_and_only_its_sha256_is_kept(created):
    key = ApiKey.objects.get(pk=created.key.pk)

    assert created.plaintext.startswith(KEY_LABEL)
    assert key.prefix in created.plaintext
    assert key.secret_hash == hashlib.sha256(created.plaintext.encode()).hexdigest()
    stored = [str(v) for v in ApiKey.objects.filter(pk=key.pk).values().get().values()]
    assert not any(
        created.plaintext in value or created.plaintext.split("_")[-1] in value for value in stored
    )


def test_authenticate_finds_the_key_and_its_merchant_in_one_query(created, merchant):
    with CaptureQueriesContext(connection) as queries:
        key = api_key_authenticate(created.plaintext)

    assert key == created.key
    assert key.merchant == merchant
    reads = [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1] + ("0" if k[-1] != "0" else "1"),  # wrong secret
        lambda k: k[: len(KEY_LABEL)] + "000000000000" + k[len(KEY_LABEL) + 12 :],  # unknown prefix
        lambda k: k.upper(),
        lambda k: k[:-1],
        lambda k: "",
        lambda k: "Bearer " + k,
    ],
    ids=["wrong-secret", "unknown-prefix", "upper-case", "short", "empty", "with-scheme"],
)
def test_anything_but_the_exact_key_is_refused(created, mangle):
    assert api_key_authenticate(mangle(created.plaintext)) is None


def test_a_revoked_key_no_longer_authenticates(created, owner):
    api_key_revoke(key=created.key, actor=owner)

    assert api_key_authenticate(created.plaintext) is None
    with pytest.raises(KeyAlreadyRevoked):
        api_key_revoke(key=created.key, actor=owner)


def test_a_suspended_merchants_keys_do_not_authenticate(created, merchant):
    merchant.status = MerchantStatus.SUSPENDED
    merchant.save()

    assert api_key_authenticate(created.plaintext) is None


def test_last_used_at_is_written_at_most_once_a_minute(created):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        api_key_authenticate(created.plaintext)
        first = ApiKey.objects.get(pk=created.key.pk).last_used_at
        with CaptureQueriesContext(connection) as queries:
            api_key_authenticate(created.plaintext)
        assert not [q for q in queries.captured_queries if q["sql"].upper().startswith("UPDATE")]
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        api_key_authenticate(created.plaintext)
        assert ApiKey.objects.get(pk=created.key.pk).last_used_at == first
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        api_key_authenticate(created.plaintext)
        assert ApiKey.objects.get(pk=created.key.pk).last_used_at == start + timedelta(seconds=61)

    assert first == start


def test_only_an_owner_makes_keys(merchant, manager):
    with pytest.raises(RoleForbids):
        api_key_create(merchant=merchant, actor=manager, name="POS", scopes=[])


def test_unknown_scopes_and_blank_names_are_refused(merchant, owner):
    with pytest.raises(Invalid) as unknown:
        api_key_create(merchant=merchant, actor=owner, name="POS", scopes=["everything:write"])
    assert unknown.value.param == "scopes"
    with pytest.raises(Invalid) as blank:
        api_key_create(merchant=merchant, actor=owner, name="  ", scopes=[])
    assert blank.value.param == "name"


def test_every_key_is_different(merchant, owner):
    keys = {
        api_key_create(merchant=merchant, actor=owner, name=f"k{i}", scopes=[]).plaintext for i in range(20)
    }

    assert len(keys) == 20
