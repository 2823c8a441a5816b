"""The partner API's written-out statements (surfaces/api/sql.py) answer as the ORM code
they replace, on the same rows: an Idempotency-Key's lock and its record."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction

from perks.merchants.models import Merchant
from surfaces.api.idempotency import _lock_and_record
from surfaces.api.models import IdempotencyRecord
from surfaces.api.sql import (
    LOCK_AND_RECORD,
    LOCK_AND_RECORD_POSTGRESQL,
    LOCK_AND_RECORD_SQLITE,
    LOCK_NAMESPACE,
    lock_and_record_orm,
)
from tests.factories import MerchantFactory
from tests.support.sql import executed, ran

pytestmark = pytest.mark.django_db

Read = Callable[[int, str], tuple[bool, IdempotencyRecord | None]]
FORMS: list[Read] = [_lock_and_record, lock_and_record_orm]


def record(merchant: Merchant, key: str) -> IdempotencyRecord:
    return IdempotencyRecord.objects.create(
        merchant=merchant,
        key=key,
        request_method="POST",
        request_path="/api/v1/redemptions",
        request_hash="0" * 64,
        response_status=201,
        response_body='{"id": "rdm_1"}',
    )


def answer(read: Read, merchant: Merchant, key: str) -> tuple[bool, dict[str, Any] | None]:
    locked, found = read(merchant.pk, key)
    if found is None:
        return locked, None
    return locked, {f.attname: getattr(found, f.attname) for f in found._meta.concrete_fields}


def test_the_statement_of_each_database_is_the_one_run():
    statements = {"postgresql": LOCK_AND_RECORD_POSTGRESQL, "sqlite": LOCK_AND_RECORD_SQLITE}
    assert {vendor: statement.sql for vendor, statement in statements.items()} == LOCK_AND_RECORD
    with executed() as texts:
        _lock_and_record(MerchantFactory.create().pk, "k")
    assert ran(statements[connection.vendor], texts)


def test_a_keys_lock_and_record_are_read_as_the_orm_reads_them():
    merchant, other = MerchantFactory.create(), MerchantFactory.create()
    record(merchant, "kept")
    record(other, "theirs")

    for key in ("kept", "theirs", "never sent"):
        written_out = answer(_lock_and_record, merchant, key)
        assert written_out == answer(lock_and_record_orm, merchant, key), key
        assert written_out[0] is True
    assert answer(_lock_and_record, merchant, "kept")[1] is not None


@contextmanager
def other_session() -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        yield other


def lock_keys(merchant: Merchant, key: str) -> list[str]:
    return [LOCK_NAMESPACE, f"{merchant.pk}:{key}"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_key_locked_by_another_request_reads_as_the_orm_reads_it():
    merchant = MerchantFactory.create()
    record(merchant, "busy")
    with other_session() as other:
        other.execute("SELECT pg_advisory_lock(hashtext(%s), hashtext(%s))", lock_keys(merchant, "busy"))
        with transaction.atomic():
            found = [answer(read, merchant, "busy") for read in FORMS]

    assert found[0] == found[1]
    assert found[0][0] is False
    assert found[0][1] is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("read", FORMS, ids=["written-out", "orm"])
def test_the_keys_lock_is_held_to_the_end_of_the_transaction(read):
    merchant = MerchantFactory.create()
    try_lock = "SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s))"
    unlock = "SELECT pg_advisory_unlock(hashtext(%s), hashtext(%s))"
    with other_session() as other:
        with transaction.atomic():
            assert read(merchant.pk, "k")[0] is True
            assert other.execute(try_lock, lock_keys(merchant, "k")).fetchone() == (False,)
        assert other.execute(try_lock, lock_keys(merchant, "k")).fetchone() == (True,)
        other.execute(unlock, lock_keys(merchant, "k"))
