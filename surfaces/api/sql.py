# ruff: noqa: S608  (table and column names come from the model)
"""Every statement the partner API writes out by hand, each beside the ORM code it stands in
for (`replaces`); tests/surfaces/api/test_sql.py holds each pair to the same answers.

Every POST sent with an Idempotency-Key takes the key's lock and reads its record in one
round trip (surfaces.api.idempotency), so that read is written out, one statement per
database. The lock is taken after the read's snapshot, so a record committed in between is
missed; its unique constraint then refuses ours, and the request is undone and answered
with the record.
"""

from django.db.models import BooleanField, Func, IntegerField, Value

from loyalty.core.sql import Columns, Statement, database
from perks.merchants.models import Merchant
from surfaces.api.models import IdempotencyRecord

# The first key of PostgreSQL's two-key advisory locks: the idempotency keys' namespace.
LOCK_NAMESPACE = "perkline.api.idempotency"
RECORD = Columns(IdempotencyRecord, "r")


def _lock_and_record(lock: str) -> str:
    """`lock` (whether the key's lock was taken), then the key's record or NULLs."""
    return (
        f"SELECT {lock}, {RECORD.select()} FROM (SELECT 1) AS one"  # nosec B608  # model names and constants only; values are bound parameters
        f" LEFT JOIN {RECORD.table} ON {RECORD.col('merchant')} = %s AND {RECORD.col('key')} = %s"
    )


LOCK_AND_RECORD_POSTGRESQL = Statement(
    _lock_and_record("pg_try_advisory_xact_lock(hashtext(%s), hashtext(%s))"),
    replaces="surfaces.api.sql:lock_and_record_orm",
)
# IMMEDIATE transactions already serialise writers (see surfaces.api.idempotency).
LOCK_AND_RECORD_SQLITE = Statement(_lock_and_record("1"), replaces="surfaces.api.sql:lock_and_record_orm")
LOCK_AND_RECORD = {"postgresql": LOCK_AND_RECORD_POSTGRESQL.sql, "sqlite": LOCK_AND_RECORD_SQLITE.sql}


def lock_and_record_orm(merchant_id: int, key: str) -> tuple[bool, IdempotencyRecord | None]:
    """What LOCK_AND_RECORD_* answer, through the ORM in two queries: the key's lock, taken
    in a query of the merchant's row (on PostgreSQL; on SQLite there is none to take), then
    the key's record."""
    locked = True
    if database().vendor == "postgresql":
        lock = Func(
            _hashtext(LOCK_NAMESPACE),
            _hashtext(f"{merchant_id}:{key}"),
            function="pg_try_advisory_xact_lock",
            output_field=BooleanField(),
        )
        locked = Merchant.objects.filter(pk=merchant_id).values_list(lock, flat=True).get()
    return locked, IdempotencyRecord.objects.filter(merchant_id=merchant_id, key=key).first()


def _hashtext(text: str) -> Func:
    return Func(Value(text), function="hashtext", output_field=IntegerField())
