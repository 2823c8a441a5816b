# ruff: noqa: S608  (table and column names come from the models)
"""Every statement the merchants app writes out by hand, each beside the ORM code it stands
in for (`replaces`); tests/perks/merchants/test_sql.py holds each pair to the same answers.

Every partner API request looks its key up, so the look-up is written out: the ORM took
longer to compile this join than PostgreSQL takes to run it (loyalty.core.sql).
"""

from loyalty.core.sql import Columns, Statement, instances, row_read
from perks.merchants.models import ApiKey, Merchant

_KEY = Columns(ApiKey, "k")
_KEY_MERCHANT = Columns(Merchant, "m")

KEY_BY_PREFIX = Statement(
    f"SELECT {_KEY.select()}, {_KEY_MERCHANT.select()} FROM {_KEY.table}"
    f" JOIN {_KEY_MERCHANT.table} ON {_KEY_MERCHANT.col('id')} = {_KEY.col('merchant')}"
    f" WHERE {_KEY.col('prefix')} = %s",
    replaces="perks.merchants.sql:key_by_prefix_orm",
)


def key_by_prefix(prefix: str) -> ApiKey | None:
    """The key of `prefix` (unique) with its merchant, or None."""
    row = row_read(KEY_BY_PREFIX.sql, [prefix])
    if row is None:
        return None
    key, merchant = instances(row, (_KEY, _KEY_MERCHANT))
    key.merchant = merchant
    return key


def key_by_prefix_orm(prefix: str) -> ApiKey | None:
    """What `key_by_prefix` answers, as the ORM reads it."""
    return ApiKey.objects.select_related("merchant").filter(prefix=prefix).first()
