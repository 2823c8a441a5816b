# ruff: noqa: S608  (table and column names come from the models, constants from their choices)
"""Every statement the vouchers app writes out by hand, campaigns included, each beside the
ORM (or Python) code it stands in for (`replaces`); tests/perks/vouchers/test_sql.py holds
each pair to the same answers.

A use of a voucher (its read under lock, then the use and its redemption row) is written
out because the ORM took longer to compile those queries than the database takes to run
them. A campaign's chunk is written out to be set-based: its rows travel as arrays,
`unnest` on PostgreSQL and `json_each` on SQLite, so a chunk of thousands is one statement
with a handful of parameters (no 65,535-parameter ceiling, no per-row round trip).
"""

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Case, F, Field, Model, Q, QuerySet, Value, When

from loyalty.core.partitioning import keys_insert_new
from loyalty.core.sql import Columns, Statement, database, instances, prepared_cursor, row_read
from loyalty.members.models import LookupPurpose, Member, MemberLookup
from loyalty.scoring.models import MemberStanding, Tier
from perks.catalog.models import Perk
from perks.merchants.models import Merchant
from perks.vouchers.codes import codes_generate
from perks.vouchers.models import (
    Campaign,
    Redemption,
    UsageKey,
    UsageKind,
    UsageRecord,
    Voucher,
    VoucherSource,
    VoucherStatus,
)

# What a use of a voucher reads beside it (its state, the perk's rules, the member's
# standing for eligibility), joined into one query. The merchant is the caller's, already
# read.
_VOUCHER = Columns(Voucher, "v")
_PERK = Columns(Perk, "p")
_MIN_TIER = Columns(Tier, "pt")
_MEMBER = Columns(Member, "mb")
_STANDING = Columns(MemberStanding, "s")
_TIER = Columns(Tier, "st")
_VOUCHER_USE_READS = (_VOUCHER, _PERK, _MIN_TIER, _MEMBER, _STANDING, _TIER)

VOUCHER_FOR_USE = Statement(
    f"SELECT {', '.join(c.select() for c in _VOUCHER_USE_READS)}"  # nosec B608  # model names and constants only; values are bound parameters
    f" FROM {_VOUCHER.table}"
    f" JOIN {_PERK.table} ON {_PERK.col('id')} = {_VOUCHER.col('perk')}"
    f" AND {_PERK.col('merchant')} = {_VOUCHER.col('merchant')}"
    f" LEFT JOIN {_MIN_TIER.table} ON {_MIN_TIER.col('id')} = {_PERK.col('min_tier')}"
    f" JOIN {_MEMBER.table} ON {_MEMBER.col('id')} = {_VOUCHER.col('member')}"
    f" LEFT JOIN {_STANDING.table} ON {_STANDING.col('member')} = {_MEMBER.col('id')}"
    f" LEFT JOIN {_TIER.table} ON {_TIER.col('id')} = {_STANDING.col('tier')}"
    f" WHERE {_VOUCHER.col('merchant')} = %s AND {_VOUCHER.col('code')} = %s",
    replaces="perks.vouchers.sql:voucher_for_use_orm",
)


def voucher_for_use(*, merchant: Merchant, code: str, lock: bool) -> Voucher | None:
    """The merchant's voucher of `code` (canonical) with what a use of it reads (its perk
    with the perk's minimum tier, its member with their standing and tier), locked when
    `lock`; None when the merchant has no such voucher."""
    db = database()
    sql = VOUCHER_FOR_USE.sql
    if lock and db.features.has_select_for_update_of:
        sql += f" FOR UPDATE OF {_VOUCHER.alias}"
    row = row_read(sql, [merchant.pk, code])
    if row is None:
        return None
    voucher, perk, min_tier, member, standing, tier = instances(row, _VOUCHER_USE_READS)
    perk.merchant, perk.min_tier = merchant, min_tier
    voucher.merchant, voucher.perk, voucher.member = merchant, perk, member
    if standing is not None:
        standing.tier = tier
    Member.standing.related.set_cached_value(member, standing)  # None: has none, read nothing more
    return voucher


def voucher_for_use_orm(*, merchant: Merchant, code: str, lock: bool) -> Voucher | None:
    """What `voucher_for_use` answers, as the ORM reads (and locks) it."""
    vouchers = Voucher.objects.select_related("perk__min_tier", "member__standing__tier").filter(
        merchant=merchant, code=code, perk__merchant=F("merchant")
    )
    if lock:
        vouchers = vouchers.select_for_update(of=("self",))
    voucher = vouchers.first()
    if voucher is not None:
        voucher.merchant = voucher.perk.merchant = merchant
    return voucher


def _use_take_sql(*, holds: bool) -> str:
    last_use = "uses_allowed = uses_count + 1"
    room = "" if holds else " AND uses_count < uses_allowed - uses_reserved"
    return (
        f"UPDATE {Voucher._meta.db_table} SET uses_count = uses_count + 1,"  # nosec B608  # model names and constants only; values are bound parameters
        f" uses_reserved = uses_reserved - {1 if holds else 0},"
        f" status = CASE WHEN {last_use} THEN %s ELSE status END,"
        f" status_changed_at = CASE WHEN {last_use} THEN %s ELSE status_changed_at END"
        f" WHERE id = %s AND status = %s{room} RETURNING id"
    )


# One use of an issued voucher with room left (the statement a redemption's row is
# inserted after: perks.vouchers.services.redemption), or of the use its reservation holds.
# Parameters: the status a last use leaves, the moment, the voucher's id, the issued status.
USE_TAKE = Statement(_use_take_sql(holds=False), replaces="perks.vouchers.sql:use_take_orm")
USE_TAKE_HELD = Statement(_use_take_sql(holds=True), replaces="perks.vouchers.sql:use_take_orm")


def use_take_orm(voucher: Voucher, redemption: Redemption, *, holds: bool, now: datetime) -> bool:
    """USE_TAKE (USE_TAKE_HELD when it `holds` a reservation) and the redemption's row after
    it, through the ORM; whether the use was taken."""
    room = Q() if holds else Q(uses_count__lt=F("uses_allowed") - F("uses_reserved"))
    last_use = Q(uses_allowed=F("uses_count") + 1)
    used = Voucher.objects.filter(room, pk=voucher.pk, status=VoucherStatus.ISSUED).update(
        uses_count=F("uses_count") + 1,
        uses_reserved=F("uses_reserved") - (1 if holds else 0),
        status=Case(When(last_use, then=Value(VoucherStatus.REDEEMED)), default=F("status")),
        status_changed_at=Case(When(last_use, then=Value(now)), default=F("status_changed_at")),
    )
    if used:
        redemption.save()
    return bool(used)


# A campaign's audience cut into runs of consecutive ids: `{rows}` is the audience's query,
# as the ORM compiles it.
ID_RANGES = Statement(
    "SELECT MIN(pk), MAX(pk), COUNT(*) FROM ("
    "SELECT a.pk, (ROW_NUMBER() OVER (ORDER BY a.pk) - 1) / %s AS bucket FROM ({rows}) a"
    ") b GROUP BY bucket ORDER BY bucket",
    replaces="perks.vouchers.sql:id_ranges_python",
)


def id_ranges(rows: QuerySet[Any], *, size: int) -> list[tuple[int, int, int]]:
    """(first id, last id, count) of each run of `size` consecutive primary keys of `rows`."""
    sql, params = rows.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(ID_RANGES.sql.format(rows=sql), [size, *params])
        return [(int(low), int(high), int(count)) for low, high, count in cursor.fetchall()]


def id_ranges_python(rows: QuerySet[Any], *, size: int) -> list[tuple[int, int, int]]:
    """What `id_ranges` answers, from every id of `rows` read in order and cut in Python."""
    ids = list(rows.order_by("pk").values_list("pk", flat=True))
    runs = [ids[start : start + size] for start in range(0, len(ids), size)]
    return [(run[0], run[-1], len(run)) for run in runs]


# A chunk's campaign vouchers, `{rows}` the chunk's (code, member_id) pairs (`_rows`). A
# (campaign, member) pair that already exists is skipped, and the members really given one
# are returned; a clash of codes is an error (the transaction is retried with fresh codes),
# never a silently missing voucher.
VOUCHERS_INSERT = Statement(
    f"INSERT INTO {Voucher._meta.db_table}"  # nosec B608  # model names and constants only; values are bound parameters
    " (code, member_id, perk_id, merchant_id, campaign_id, status, source, "
    "uses_allowed, uses_count, uses_reserved, points_spent, claim_key, issued_at, valid_from, "
    "expires_at, status_changed_at) "
    "SELECT r.code, r.member_id, %s, %s, %s, %s, %s, %s, 0, 0, 0, '', %s, %s, %s, %s FROM {rows} "
    "WHERE true "  # SQLite reads ON CONFLICT after a bare FROM as a join constraint
    "ON CONFLICT (campaign_id, member_id) WHERE campaign_id IS NOT NULL DO NOTHING "
    "RETURNING member_id",
    replaces="perks.vouchers.sql:vouchers_insert_orm",
)


def vouchers_insert(*, campaign: Campaign, member_ids: Sequence[int], now: datetime) -> list[int]:
    """One campaign voucher each for `member_ids`; returns the members who got one now."""
    perk = campaign.perk
    adapt = connection.ops.adapt_datetimefield_value
    expires_at = _expires_at(perk, now)
    issued_at = adapt(now)
    codes = codes_generate(len(member_ids))
    rows, row_params = _rows(("code", "member_id"), ("varchar", "bigint"), [codes, list(member_ids)])
    with connection.cursor() as cursor:
        cursor.execute(
            VOUCHERS_INSERT.sql.format(rows=rows),
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


def vouchers_insert_orm(*, campaign: Campaign, member_ids: Sequence[int], now: datetime) -> list[int]:
    """What `vouchers_insert` does, one member at a time through the ORM, as a voucher is
    created for one member (perks.vouchers.services.issuance)."""
    perk = campaign.perk
    expires_at = _expires_at(perk, now)
    inserted = []
    for member_id, code in zip(member_ids, codes_generate(len(member_ids)), strict=True):
        if Voucher.objects.filter(campaign=campaign, member_id=member_id).exists():
            continue
        Voucher.objects.create(
            code=code,
            member_id=member_id,
            perk=perk,
            merchant_id=campaign.merchant_id,
            campaign=campaign,
            status=VoucherStatus.ISSUED,
            source=VoucherSource.CAMPAIGN,
            uses_allowed=perk.uses_per_voucher,
            issued_at=now,
            valid_from=now,
            expires_at=expires_at,
            status_changed_at=now,
        )
        inserted.append(member_id)
    return inserted


def _expires_at(perk: Perk, now: datetime) -> datetime:
    """When a voucher of `perk` issued `now` expires."""
    expires_at = now + timedelta(days=perk.voucher_ttl_days)
    if perk.valid_until is not None:
        expires_at = min(expires_at, perk.valid_until)
    return expires_at


def _rows(names: Sequence[str], types: Sequence[str], columns: Sequence[list[Any]]) -> tuple[str, list[Any]]:
    """A FROM item `r` with one row per position of the equally long `columns`. A decimal
    column's values travel as Decimals (one array type on PostgreSQL; text in SQLite's JSON,
    which has no decimal)."""
    columns = [
        [Decimal(value) for value in column] if kind.startswith(("numeric", "decimal")) else column
        for kind, column in zip(types, columns, strict=True)
    ]
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{kind}[]" for kind in types)
        return f"unnest({arrays}) AS r({', '.join(names)})", columns
    picks = ", ".join(f"json_extract(value, '$[{i}]') AS {name}" for i, name in enumerate(names))
    rows = json.dumps(list(zip(*columns, strict=True)), default=str)
    return f"(SELECT {picks} FROM json_each(%s)) AS r", [rows]  # nosec B608  # model names and constants only; values are bound parameters


# The next `batch` redemptions whose side effects are due, oldest first, marked as
# applied `now` and returned: what the drain takes, a batch a transaction. On PostgreSQL
# (`{lock}`) rows another drain holds are skipped, so drains at once share the work.
DUE_CLAIM = Statement(
    f"WITH due AS MATERIALIZED (SELECT id FROM {Redemption._meta.db_table}"  # nosec B608  # model names and constants only; values are bound parameters
    " WHERE side_effects_at IS NULL ORDER BY id LIMIT %s{lock})"
    f" UPDATE {Redemption._meta.db_table} SET side_effects_at = %s"
    " WHERE id IN (SELECT id FROM due) RETURNING id",
    replaces="perks.vouchers.sql:due_claim_orm",
)


def due_claim(*, batch: int, now: datetime) -> list[int]:
    """Up to `batch` due redemptions, oldest first, marked applied `now` and locked until
    the transaction ends; their ids, in order."""
    lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    with prepared_cursor() as cursor:
        cursor.execute(
            DUE_CLAIM.sql.format(lock=lock), [batch, connection.ops.adapt_datetimefield_value(now)]
        )
        return sorted(int(pk) for (pk,) in cursor.fetchall())


def due_claim_orm(*, batch: int, now: datetime) -> list[int]:
    """What `due_claim` does, as the ORM locks, reads and marks them."""
    due = list(
        Redemption.objects.select_for_update(skip_locked=True)
        .filter(side_effects_at=None)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    )
    Redemption.objects.filter(pk__in=due).update(side_effects_at=now)
    return due


# The usage rows of a batch of redemptions (of `kind`: a redemption's +1, a reversal's -1),
# `{rows}` their ids (`_rows`), only those whose (redemption, kind) key was claimed in
# UsageKey just before, in the same transaction (usage is partitioned by month on
# PostgreSQL, and a partitioned table keeps no unique key without its month): a row
# already there is skipped, and the redemptions really recorded now are returned: only
# they get the rest of their side effects, so a batch applied again, or two at once,
# record once.
USAGE_INSERT = Statement(
    f"INSERT INTO {UsageRecord._meta.db_table} (merchant_id, redemption_id, kind, quantity, recorded_at)"  # nosec B608  # model names and constants only; values are bound parameters
    f" SELECT rd.merchant_id, rd.id, %s, %s, %s FROM {{rows}} JOIN {Redemption._meta.db_table} rd"
    " ON rd.id = r.id"
    " ORDER BY rd.id"
    " RETURNING redemption_id",
    replaces="perks.vouchers.services.side_effects:redemption_side_effects_apply",
)


def usage_insert(*, redemption_ids: Sequence[int], kind: str, now: datetime) -> list[int]:
    """The usage row of `kind` for each of `redemption_ids` that has none; returns the
    redemptions given one now."""
    claimed = keys_insert_new(UsageKey, ((redemption_id, kind) for redemption_id in sorted(redemption_ids)))
    redemption_ids = [redemption_id for redemption_id, _ in sorted(claimed)]
    if not redemption_ids:
        return []
    rows, row_params = _rows(("id",), ("bigint",), [list(redemption_ids)])
    quantity = 1 if kind == UsageKind.REDEMPTION else -1
    with prepared_cursor() as cursor:
        cursor.execute(
            USAGE_INSERT.sql.format(rows=rows),
            [kind, quantity, connection.ops.adapt_datetimefield_value(now), *row_params],
        )
        return [int(redemption_id) for (redemption_id,) in cursor.fetchall()]


# The record of the merchant's look-up of each of a batch's members, as of the redemption
# (`{rows}` the redemptions' ids): written out because building one ORM row a redemption
# cost the drain more than the database spends inserting them all. The log has no unique
# key: only redemptions that USAGE_INSERT recorded now are given, once.
LOOKUPS_INSERT = Statement(
    f"INSERT INTO {MemberLookup._meta.db_table}"  # nosec B608  # model names and constants only; values are bound parameters
    " (member_id, merchant_ref, merchant_name, purpose, looked_up_at)"
    f" SELECT v.member_id, m.ref, m.name, %s, rd.created_at FROM {{rows}}"
    f" JOIN {Redemption._meta.db_table} rd ON rd.id = r.id"
    f" JOIN {Voucher._meta.db_table} v ON v.id = rd.voucher_id"
    f" JOIN {Merchant._meta.db_table} m ON m.id = rd.merchant_id"
    " ORDER BY rd.id",
    replaces="perks.vouchers.services.side_effects:redemption_side_effects_apply",
)


def lookups_insert(*, redemption_ids: Sequence[int]) -> None:
    """`member_lookup_record` (purpose: redemption) for each of `redemption_ids`."""
    rows, row_params = _rows(("id",), ("bigint",), [list(redemption_ids)])
    with prepared_cursor() as cursor:
        cursor.execute(LOOKUPS_INSERT.sql.format(rows=rows), [LookupPurpose.REDEMPTION.value, *row_params])


# Counts added to rows of the dashboard's rollup (perks.vouchers.services.rollup) that the
# caller has locked: `{rows}` a row each, its merchant and id and what to add to each of
# `{counts}`.
ROLLUP_ADD = Statement(
    "UPDATE {table} SET {sets} FROM {rows} WHERE {table}.merchant_id = r.merchant_id AND {table}.id = r.id",
    replaces="perks.vouchers.sql:rollup_add_orm",
)


def rollup_add(
    *, model: type[Model], counts: Sequence[str], moves: Mapping[tuple[int, int], Sequence[Any]]
) -> None:
    """Add to each row of `model` named in `moves` by (merchant id, primary key), rows this
    transaction has locked, its numbers, one for each of `counts`, in one statement."""
    if not moves:
        return
    table = model._meta.db_table
    types = ["bigint", "bigint", *(_column_type(model, name) for name in counts)]
    keys = sorted(moves)
    columns = [
        [merchant_id for merchant_id, _ in keys],
        [pk for _, pk in keys],
        *([moves[key][n] for key in keys] for n in range(len(counts))),
    ]
    rows, params = _rows(("merchant_id", "id", *counts), types, columns)
    sets = ", ".join(f"{name} = {table}.{name} + r.{name}" for name in counts)
    with connection.cursor() as cursor:
        cursor.execute(ROLLUP_ADD.sql.format(table=table, sets=sets, rows=rows), params)


def _column_type(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    kind = field.db_type(connection) if isinstance(field, Field) else None
    if kind is None:
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return kind


def rollup_add_orm(
    *, model: type[Model], counts: Sequence[str], moves: Mapping[tuple[int, int], Sequence[Any]]
) -> None:
    """What `rollup_add` does, a row at a time by F()."""
    for merchant_id, pk in sorted(moves):
        model._default_manager.filter(pk=pk, merchant_id=merchant_id).update(
            **{
                name: F(name) + value
                for name, value in zip(counts, moves[(merchant_id, pk)], strict=True)
                if value
            }
        )
