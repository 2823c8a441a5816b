# ruff: noqa: S608  (the SQL is built from constants and table names; values go as parameters)
"""The set-based SQL of campaigns: cutting an audience into id ranges, and inserting a
chunk's vouchers in one statement.

The rows travel as arrays: `unnest` on PostgreSQL, `json_each` on SQLite, so a chunk of
thousands is one statement with a handful of parameters (no 65,535-parameter ceiling, no
per-row round trip). Voucher inserts skip a (campaign, member) pair that already exists
and return the members really inserted; a clash of codes is an error (the transaction is
retried with fresh codes), never a silently missing voucher.
"""

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from perks.vouchers.codes import codes_generate
from perks.vouchers.models import Campaign, Voucher, VoucherSource, VoucherStatus


def id_ranges(rows: QuerySet[Any], *, size: int) -> list[tuple[int, int, int]]:
    """(first id, last id, count) of each run of `size` consecutive primary keys of `rows`."""
    sql, params = rows.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MIN(pk), MAX(pk), COUNT(*) FROM ("
            f"SELECT a.pk, (ROW_NUMBER() OVER (ORDER BY a.pk) - 1) / %s AS bucket FROM ({sql}) a"
            ") b GROUP BY bucket ORDER BY bucket",
            [size, *params],
        )
        return [(int(low), int(high), int(count)) for low, high, count in cursor.fetchall()]


def vouchers_insert(*, campaign: Campaign, member_ids: Sequence[int], now: datetime) -> list[int]:
    """One campaign voucher each for `member_ids`; returns the members who got one now."""
    perk = campaign.perk
    table = Voucher._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    expires_at = now + timedelta(days=perk.voucher_ttl_days)
    if perk.valid_until is not None:
        expires_at = min(expires_at, perk.valid_until)
    issued_at = adapt(now)
    codes = codes_generate(len(member_ids))
    rows, row_params = _rows(("code", "member_id"), ("varchar", "bigint"), [codes, list(member_ids)])
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (code, member_id, perk_id, merchant_id, campaign_id, status, source, "
            "uses_allowed, uses_count, uses_reserved, points_spent, claim_key, issued_at, valid_from, "
            "expires_at, status_changed_at) "
            f"SELECT r.code, r.member_id, %s, %s, %s, %s, %s, %s, 0, 0, 0, '', %s, %s, %s, %s FROM {rows} "
            "WHERE true "  # SQLite reads ON CONFLICT after a bare FROM as a join constraint
            "ON CONFLICT (campaign_id, member_id) WHERE campaign_id IS NOT NULL DO NOTHING "
            "RETURNING member_id",
            [
                perk.pk,
                campaign.merchant_id,
                campaign.pk,
                VoucherStatus.ISSUED.value,
                VoucherSource.CAMPAIGN.value,
                perk.uses_per_voucher,
                issued_at,
                issued_at,
                adapt(expires_at),
                issued_at,
                *row_params,
            ],
        )
        return [int(member_id) for (member_id,) in cursor.fetchall()]


def _rows(names: Sequence[str], types: Sequence[str], columns: Sequence[list[Any]]) -> tuple[str, list[Any]]:
    """A FROM item `r` with one row per position of the equally long `columns`."""
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{kind}[]" for kind in types)
        return f"unnest({arrays}) AS r({', '.join(names)})", list(columns)
    picks = ", ".join(f"json_extract(value, '$[{i}]') AS {name}" for i, name in enumerate(names))
    return f"(SELECT {picks} FROM json_each(%s)) AS r", [json.dumps(list(zip(*columns, strict=True)))]
