# ruff: noqa: S608  (table and column names come from the models, constants from their choices)
"""Every statement the merchants app writes out by hand, each beside the ORM code it stands
in for (`replaces`); tests/perks/merchants/test_sql.py holds each pair to the same answers.

Every partner API request looks its key up, so the look-up is written out: the ORM took
longer to compile this join than PostgreSQL takes to run it (loyalty.core.sql). Webhook
events emitted by the batch are written out to be set-based (`webhook_events_emit`).
"""

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from loyalty.core.refs import new_refs
from loyalty.core.sql import Columns, Statement, instances, prepared_cursor, row_read
from perks.merchants.models import (
    DELIVERY_REF_PREFIX,
    EVENT_REF_PREFIX,
    WEBHOOK_RETRY_WINDOW,
    ApiKey,
    DeliveryStatus,
    Merchant,
    WebhookDelivery,
    WebhookEvent,
)

_KEY = Columns(ApiKey, "k")
_KEY_MERCHANT = Columns(Merchant, "m")

KEY_BY_PREFIX = Statement(
    f"SELECT {_KEY.select()}, {_KEY_MERCHANT.select()} FROM {_KEY.table}"  # nosec B608  # model names and constants only; values are bound parameters
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


# Webhook events and their deliveries, a batch of them at once (a drain of redemptions'
# side effects emits hundreds): each kind of row goes in with one statement, its rows
# travelling as one JSON document (`_rows`), the refs drawn in Python. An event's ref
# clash is an error, never a silently missing event; a delivery already there for its
# (event, endpoint) is skipped, as the unique key says.
EVENTS_INSERT = Statement(
    f"INSERT INTO {WebhookEvent._meta.db_table} (ref, merchant_id, type, data, created_at)"  # nosec B608  # model names and constants only; values are bound parameters
    " SELECT r.ref, r.merchant_id, %s, r.data, %s FROM {rows} RETURNING id, merchant_id",
    replaces="perks.merchants.services.webhooks.delivery:webhook_emit",
)
DELIVERIES_INSERT = Statement(
    f"INSERT INTO {WebhookDelivery._meta.db_table} (ref, event_id, endpoint_id, status, attempt_count,"  # nosec B608  # model names and constants only; values are bound parameters
    " next_attempt_at, dispatched_at, deadline, created_at, completed_at)"
    " SELECT r.ref, r.event_id, r.endpoint_id, %s, 0, %s, %s, %s, %s, NULL FROM {rows}"
    " WHERE true"  # SQLite reads ON CONFLICT after a bare FROM as a join constraint
    " ON CONFLICT (event_id, endpoint_id) DO NOTHING RETURNING id, endpoint_id",
    replaces="perks.merchants.services.webhooks.delivery:webhook_emit",
)


def events_insert(
    *, type: str, merchant_ids: Sequence[int], data: Sequence[Mapping[str, Any]], now: datetime
) -> list[tuple[int, int]]:
    """One event of `type` for each position of `merchant_ids` and `data`; the (id,
    merchant id) of each event inserted."""
    refs = new_refs(EVENT_REF_PREFIX, len(merchant_ids))
    rows, params = _rows(
        {"ref": "text", "merchant_id": "bigint", "data": "jsonb"},
        [
            {"ref": ref, "merchant_id": merchant_id, "data": dict(event)}
            for ref, merchant_id, event in zip(refs, merchant_ids, data, strict=True)
        ],
    )
    adapt = connection.ops.adapt_datetimefield_value
    with prepared_cursor() as cursor:
        cursor.execute(EVENTS_INSERT.sql.format(rows=rows), [type, adapt(now), *params])
        return [(int(pk), int(merchant_id)) for pk, merchant_id in cursor.fetchall()]


def deliveries_insert(*, pairs: Sequence[tuple[int, int]], now: datetime) -> list[tuple[int, int]]:
    """A pending delivery for each (event id, endpoint id) of `pairs`, due `now`; the (id,
    endpoint id) of each delivery inserted."""
    if not pairs:
        return []
    refs = new_refs(DELIVERY_REF_PREFIX, len(pairs))
    rows, params = _rows(
        {"ref": "text", "event_id": "bigint", "endpoint_id": "bigint"},
        [
            {"ref": ref, "event_id": event_id, "endpoint_id": endpoint_id}
            for ref, (event_id, endpoint_id) in zip(refs, pairs, strict=True)
        ],
    )
    adapt = connection.ops.adapt_datetimefield_value
    at = adapt(now)
    with prepared_cursor() as cursor:
        cursor.execute(
            DELIVERIES_INSERT.sql.format(rows=rows),
            [DeliveryStatus.PENDING.value, at, at, adapt(now + WEBHOOK_RETRY_WINDOW), at, *params],
        )
        return [(int(pk), int(endpoint_id)) for pk, endpoint_id in cursor.fetchall()]


def _rows(columns: Mapping[str, str], rows: Sequence[Mapping[str, Any]]) -> tuple[str, list[Any]]:
    """A FROM item `r` with one row for each of `rows` (their `columns`, each with its
    PostgreSQL type), sent as one JSON document, so a batch is one parameter whatever its
    size, encoded in one call, as the models' JSON fields encode (DjangoJSONEncoder).
    perks/vouchers/sql.py sends its rows as arrays instead, which cost more to send once
    they carry text."""
    document = json.dumps(rows, cls=DjangoJSONEncoder)
    if connection.vendor == "postgresql":
        names = ", ".join(f"{name} {kind}" for name, kind in columns.items())
        return f"json_to_recordset(%s::json) AS r({names})", [document]
    picks = ", ".join(f"json_extract(value, '$.{name}') AS {name}" for name in columns)
    return f"(SELECT {picks} FROM json_each(%s)) AS r", [document]  # nosec B608  # model names and constants only; values are bound parameters
