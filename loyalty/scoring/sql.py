# ruff: noqa: S608  (names come from the models, constants from their choices and the engine)
"""Every statement the scoring app writes out by hand, each beside the ORM code it stands in
for (`replaces`); tests/loyalty/scoring/test_sql.py holds each pair to the same answers.

Most of them are the steps of the nightly full recomputation, which `bulk.py` runs in order:
together they write what `score_recompute` writes member by member, so each names it. A
statement assembled per call (from the engine's constants and the tier bands, or for a
batch's size) has its frame as the Statement, with named fields (`{sums}`) that the function
running it fills in. The advisory lock, the session settings and the run table's DDL stand
in for no ORM code and are not Statements.
"""

import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection

from loyalty.core.partitioning import keys_insert_new
from loyalty.core.sql import Statement, column_value, database, row_read, rows_insert_returning
from loyalty.scoring.bands import Bands
from loyalty.scoring.engine import ENGINE, HALF_WEIGHT, HORIZON_HALF_LIVES, MILLI, DimensionRule, Engine
from loyalty.scoring.models import (
    DIMENSION_BITS,
    DISPUTE_NOT_COUNTING_STATUSES,
    Dispute,
    EventKey,
    Hold,
    HoldCategory,
    HoldEnd,
    HoldStatus,
    MemberStanding,
    RecomputeCause,
    ScoreEvent,
    ScoreSnapshot,
    TierChange,
    TierChangeCause,
)

_ACTIVE = f"status = '{HoldStatus.ACTIVE.value}'"

HOLD_HELD_UNTIL = Statement(
    f"SELECT MAX(CASE WHEN {_ACTIVE} THEN expires_at ELSE lifted_at END)"  # nosec B608  # model names and constants only; values are bound parameters
    f" FROM {Hold._meta.db_table}"
    " WHERE member_id = %s AND merchant_ref = %s"
    f" AND category IN (%s, '{HoldCategory.ALL.value}') AND placed_at <= %s"
    f" AND ({_ACTIVE} OR lifted_how <> '{HoldEnd.APPEAL.value}')",
    replaces="loyalty.scoring.selectors:holds_suspending",
)


def hold_held_until(*, member_id: int, merchant_ref: str, category: str, at: datetime) -> datetime | None:
    """The last moment one of a merchant's holds placed by `at` kept the member's perks of
    `category` (NULL: never); a hold overturned on appeal never counts. Every eligibility
    check asks it, so it is written out: its ORM form took longer to compile than to run."""
    when = database().ops.adapt_datetimefield_value(at)
    row = row_read(HOLD_HELD_UNTIL.sql, [member_id, merchant_ref, category, when])
    assert row is not None, "an aggregate returns one row"
    held_until: datetime | None = column_value(Hold._meta.get_field("expires_at"), row[0])
    return held_until


# Recording score events (services/ingest.py).

EVENT_FIELDS = (
    "member",
    "source",
    "external_id",
    "kind",
    "dimension",
    "impact",
    "occurred_at",
    "occurred_day",
    "amount",
    "currency",
    "recorded_at",
    "cap",
)

# A batch's keys are claimed in the key table first (EventKey: score events are partitioned
# by month on PostgreSQL, and a partitioned table keeps no unique key without its month),
# then one statement stores the rows whose key was claimed now: a duplicate is counted,
# never stored twice, and never fails the batch. {table}, {columns} and {rows} are the
# connection's quoting of the names and the batch's placeholders.
EVENTS_INSERT_NEW = Statement(
    "INSERT INTO {table} ({columns}) VALUES {rows} RETURNING member_id, kind, external_id",
    replaces="loyalty.scoring.services.ingest:_insert_new_one_by_one",
)


def events_insert_new(rows: list[dict[str, Any]]) -> Iterator[tuple[int, str, str]]:
    """Insert `rows` (values by field name, EVENT_FIELDS) that are not stored yet; yields the
    (member id, kind, external id) of each row stored now. One statement for a batch on
    PostgreSQL; SQLite takes at most 999 parameters a statement, so there it is a few."""
    claimed = keys_insert_new(EventKey, ((row["source"], row["external_id"]) for row in rows))
    first = {(row["source"], row["external_id"]): row for row in reversed(rows)}  # the first of each key
    rows = [
        row
        for row in rows
        if first[row["source"], row["external_id"]] is row and (row["source"], row["external_id"]) in claimed
    ]
    if not rows:
        return
    by_name = {field.name: field for field in ScoreEvent._meta.concrete_fields}
    fields = [by_name[name] for name in EVENT_FIELDS]
    values = [[row[field.name] for field in fields] for row in rows]
    yield from rows_insert_returning(EVENTS_INSERT_NEW, ScoreEvent, fields, values)


# The nightly full recomputation (bulk.py): the database does the arithmetic of engine.py,
# with expressions built from the same constants and integer arithmetic only.

RECOMPUTE = "loyalty.scoring.services.recompute:score_recompute"
RUN_TABLE = "scoring_recompute_run"
RUN_LOCK = zlib.crc32(RUN_TABLE.encode())
DIMENSION_COLUMNS = [f"{rule.dimension}_{part}" for rule in ENGINE.rules for part in ("sum", "milli")]
_STANDINGS = MemberStanding._meta.db_table
_SNAPSHOTS = ScoreSnapshot._meta.db_table
_TIER_CHANGES = TierChange._meta.db_table

# Each member's decayed sum per dimension over the events that count: its sums over all
# its events, less those of the few that do not (past a cap, found by the partial index of
# capped events; or disputed and not upheld, found from the disputes). Nearly every event
# counts, so the big aggregate stays a plain scan with no per-row look-up. {sums} is one
# SUM a rule (_decayed_sum_sql); {differences} each dimension's total less what is left out.
_EVENTS = ScoreEvent._meta.db_table
_ASOF = "CAST(%(asof)s AS INTEGER)"
_NOT_COUNTING = ", ".join(f"'{status}'" for status in DISPUTE_NOT_COUNTING_STATUSES)
DECAYED_SUMS = Statement(
    f"SELECT t.member_id, {{differences}} FROM ("  # nosec B608  # model names and constants only; values are bound parameters
    f"SELECT member_id, {{sums}} FROM {_EVENTS} WHERE occurred_day <= {_ASOF} GROUP BY member_id"
    ") t LEFT JOIN ("
    "SELECT member_id, {sums} FROM ("
    f"SELECT member_id, dimension, impact, occurred_day FROM {_EVENTS} "
    f"WHERE cap <> '' AND occurred_day <= {_ASOF} "
    "UNION ALL "
    f"SELECT e.member_id, e.dimension, e.impact, e.occurred_day FROM {Dispute._meta.db_table} d "
    f"JOIN {_EVENTS} e ON e.id = d.event_id "
    f"WHERE d.status IN ({_NOT_COUNTING}) AND e.cap = '' AND e.occurred_day <= {_ASOF}"
    ") left_out GROUP BY member_id"
    ") x ON x.member_id = t.member_id",
    replaces=RECOMPUTE,
)

# The members whose standing a recomputation now changes, with everything to write: the
# run table is made of it. The fields are the engine's expressions and the bands' CASEs
# (changes_sql). MATERIALIZED keeps the score arithmetic from being inlined into the tier
# rule above it, which names the score a dozen times per row.
RECOMPUTE_CHANGES = Statement(
    f"""
        WITH summed AS (
            SELECT s.member_id, s.version, s.tier_id AS old_tier_id, s.score AS old_score,
                s.below_band_since AS old_bbs, s.engine_version AS old_engine, {{consented_sums}}
            FROM {_STANDINGS} s
            LEFT JOIN ({{decayed_sums}}) e ON e.member_id = s.member_id
        ), scored AS MATERIALIZED (
            SELECT summed.*, {{milli}}, {{score}} AS score FROM summed
        ), banded AS (
            SELECT scored.*,
                {{band_tier_id}} AS band_tier_id,
                {{band_rank}} AS band_rank,
                {{old_rank}} AS old_rank,
                COALESCE(old_bbs, %(now)s) <= %(due_before)s AS due
            FROM scored
        ), decided AS (
            SELECT banded.*,
                CASE WHEN band_rank >= old_rank OR due THEN band_tier_id ELSE old_tier_id END AS tier_id,
                CASE WHEN band_rank >= old_rank OR due THEN NULL ELSE COALESCE(old_bbs, %(now)s) END
                    AS below_band_since,
                CASE WHEN band_rank > old_rank THEN '{TierChangeCause.UPGRADE}'
                    WHEN band_rank < old_rank AND due THEN '{TierChangeCause.DOWNGRADE}' END AS tier_change
            FROM banded
        )
        SELECT member_id, version, old_tier_id, score, {", ".join(DIMENSION_COLUMNS)},
            tier_id, below_band_since, tier_change
        FROM decided
        WHERE score <> old_score OR old_engine <> %(engine_version)s OR tier_id <> old_tier_id
            OR (old_bbs IS NULL) <> (below_band_since IS NULL)
    """,  # nosec B608  # model names and constants only; values are bound parameters
    replaces=RECOMPUTE,
)

RUN_RANGE = Statement(f"SELECT MIN(member_id), MAX(member_id) FROM {RUN_TABLE}", replaces=RECOMPUTE)  # nosec B608  # model names and constants only; values are bound parameters

_SNAPSHOT_COLUMNS = "member_id, computed_at, cause, engine_version, score, tier_id, " + ", ".join(
    DIMENSION_COLUMNS
)
_SNAPSHOT_VALUES = (
    f"r.member_id, %(now)s, '{RecomputeCause.NIGHTLY}', %(engine_version)s, r.score, r.tier_id, "
    + ", ".join(f"r.{column}" for column in DIMENSION_COLUMNS)
)
_TIER_CHANGE_COLUMNS = "member_id, previous_tier_id, tier_id, score, cause, changed_at"
_TIER_CHANGE_VALUES = "r.member_id, r.old_tier_id, r.tier_id, r.score, r.tier_change, %(now)s"
_STANDING_SET = (
    "score = r.score, tier_id = r.tier_id, below_band_since = r.below_band_since, "
    "engine_version = %(engine_version)s, version = {standing}.version + 1, updated_at = %(now)s"
)
_IN_RANGE = "r.member_id >= %(start)s AND r.member_id < %(stop)s"

# PostgreSQL: one statement a range; the UPDATE's row locks and version check decide which
# members are written, and the snapshots and tier changes follow from exactly those rows.
APPLY_RANGE = Statement(
    f"""
    WITH applied AS (
        UPDATE {_STANDINGS} s SET {_STANDING_SET.format(standing="s")}
        FROM {RUN_TABLE} r
        WHERE s.member_id = r.member_id AND s.version = r.version AND {_IN_RANGE}
            AND s.member_id >= %(start)s AND s.member_id < %(stop)s
        RETURNING r.*
    ), snapshots AS (
        INSERT INTO {_SNAPSHOTS} ({_SNAPSHOT_COLUMNS}) SELECT {_SNAPSHOT_VALUES} FROM applied r
    ), changes AS (
        INSERT INTO {_TIER_CHANGES} ({_TIER_CHANGE_COLUMNS})
        SELECT {_TIER_CHANGE_VALUES} FROM applied r WHERE r.tier_change IS NOT NULL
        RETURNING member_id, previous_tier_id, tier_id
    )
    SELECT (SELECT COUNT(*) FROM applied), changes.*
    FROM (SELECT 1) one LEFT JOIN changes ON TRUE
""",  # nosec B608  # model names and constants only; values are bound parameters
    replaces=RECOMPUTE,
)

# SQLite has one writer at a time, so the three statements see the same rows.
_MATCHING = f"{RUN_TABLE} r JOIN {_STANDINGS} s ON s.member_id = r.member_id AND s.version = r.version"
APPLY_SNAPSHOTS = Statement(
    f"""
    INSERT INTO {_SNAPSHOTS} ({_SNAPSHOT_COLUMNS})
    SELECT {_SNAPSHOT_VALUES} FROM {_MATCHING} WHERE {_IN_RANGE}
""",  # nosec B608  # model names and constants only; values are bound parameters
    replaces=RECOMPUTE,
)
APPLY_TIER_CHANGES = Statement(
    f"""
    INSERT INTO {_TIER_CHANGES} ({_TIER_CHANGE_COLUMNS})
    SELECT {_TIER_CHANGE_VALUES} FROM {_MATCHING} WHERE {_IN_RANGE} AND r.tier_change IS NOT NULL
    RETURNING member_id, previous_tier_id, tier_id
""",  # nosec B608  # model names and constants only; values are bound parameters
    replaces=RECOMPUTE,
)
APPLY_STANDINGS = Statement(
    f"""
    UPDATE {_STANDINGS} SET {_STANDING_SET.format(standing=_STANDINGS)}
    FROM {RUN_TABLE} r
    WHERE {_STANDINGS}.member_id = r.member_id AND {_STANDINGS}.version = r.version AND {_IN_RANGE}
""",  # nosec B608  # model names and constants only; values are bound parameters
    replaces=RECOMPUTE,
)


@contextmanager
def only_run() -> Iterator[bool]:
    """Whether this is the only full recomputation running (an advisory lock, held while
    the block runs, on PostgreSQL; SQLite has one writer anyway)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [RUN_LOCK])
        (alone,) = cursor.fetchone()
    try:
        yield alone
    finally:
        if alone:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [RUN_LOCK])


@contextmanager
def batch_session() -> Iterator[None]:
    """Session settings for one large aggregate, on PostgreSQL: memory for the hash
    aggregate, and no JIT (compiling these expressions costs more than it saves)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")
        cursor.execute("SELECT set_config('work_mem', %s, false)", [settings.SCORE_BULK_WORK_MEM])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET jit")
            cursor.execute("RESET work_mem")


def run_table_build(engine: Engine, bands: Bands, params: dict[str, Any]) -> tuple[int, int]:
    """The run table (RECOMPUTE_CHANGES), and the lowest and highest member id in it (0, 0
    when empty)."""
    # Unlogged on PostgreSQL, so other connections can apply ranges of it in parallel; a
    # crash loses only the run, which the next one redoes.
    kind = "UNLOGGED" if connection.vendor == "postgresql" else "TEMPORARY"
    with batch_session(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {RUN_TABLE}")
        cursor.execute(f"CREATE {kind} TABLE {RUN_TABLE} AS {changes_sql(engine, bands)}", params)
        cursor.execute(f"CREATE INDEX {RUN_TABLE}_member ON {RUN_TABLE} (member_id)")
        cursor.execute(RUN_RANGE.sql)
        low, high = cursor.fetchone()
    return (low, high) if low is not None else (0, 0)


def run_table_drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {RUN_TABLE}")


def run_range_apply(chunk: dict[str, Any]) -> tuple[int, list[Sequence[Any]]]:
    """Write the standings, snapshots and tier changes of the run table's members in
    [chunk["start"], chunk["stop"]) whose standing has not changed since the run read it:
    how many, and the (member id, previous tier id, tier id) of each tier change."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(APPLY_RANGE.sql, chunk)
            rows = cursor.fetchall()
            applied = rows[0][0] if rows else 0
            changes = [row[1:] for row in rows if row[1] is not None]
        else:
            cursor.execute(APPLY_SNAPSHOTS.sql, chunk)
            applied = cursor.rowcount
            cursor.execute(APPLY_TIER_CHANGES.sql, chunk)
            changes = cursor.fetchall()
            cursor.execute(APPLY_STANDINGS.sql, chunk)
    return applied, changes


def decayed_sums_sql(engine: Engine = ENGINE) -> str:
    """Each member's decayed sum per dimension: the aggregate the benchmark's floor times too."""
    return DECAYED_SUMS.sql.format(
        sums=", ".join(_decayed_sum_sql(rule) for rule in engine.rules),
        differences=", ".join(
            f"t.{rule.dimension} - COALESCE(x.{rule.dimension}, 0) AS {rule.dimension}"
            for rule in engine.rules
        ),
    )


def changes_sql(engine: Engine, bands: Bands) -> str:
    """RECOMPUTE_CHANGES for this engine and these bands."""
    rules = engine.rules
    consented_sums = ", ".join(
        f"CASE WHEN (s.shared_dimensions & {DIMENSION_BITS[rule.dimension]}) <> 0 "
        f"THEN COALESCE(e.{rule.dimension}, 0) END AS {rule.dimension}_sum"
        for rule in rules
    )
    total = " + ".join(f"COALESCE({_contribution_sql(engine, rule)}, 0)" for rule in rules)
    return RECOMPUTE_CHANGES.sql.format(
        consented_sums=consented_sums,
        decayed_sums=decayed_sums_sql(engine),
        milli=", ".join(f"{_contribution_sql(engine, rule)} AS {rule.dimension}_milli" for rule in rules),
        score=_score_sql(engine, total),
        band_tier_id=_band_case("score", bands, "id"),
        band_rank=_band_case("score", bands, "rank"),
        old_rank=_rank_of_tier("old_tier_id", bands),
    )


def _decayed_sum_sql(rule: DimensionRule) -> str:
    """SUM of impact * engine.event_weight(age) over the dimension's events."""
    age = "(CAST(%(asof)s AS INTEGER) - occurred_day)"
    half_life = rule.half_life_days
    weight = f"(({HALF_WEIGHT} >> ({age} / {half_life})) * ({2 * half_life} - {age} %% {half_life}))"
    return (
        f"SUM(CASE WHEN dimension = '{rule.dimension}' AND {age} < {HORIZON_HALF_LIVES * half_life} "
        f"THEN impact * {weight} END) AS {rule.dimension}"
    )


def _score_sql(engine: Engine, total: str) -> str:
    """engine.score_of: contributions never sum below -engine.down points, so adding that
    many keeps the dividend non-negative, where SQL's truncating division is a floor."""
    offset = engine.down * MILLI
    return f"{engine.baseline - engine.down} + ({total} + {offset + MILLI // 2}) / {MILLI}"


def _contribution_sql(engine: Engine, rule: DimensionRule) -> str:
    """engine.contribution_milli of the column `<dimension>_sum`, NULL staying NULL.

    The sum's sign is the contribution's, so each branch rounds a non-negative quotient
    half up, which is engine.round_half_away; the sum is named four times, not a dozen.
    """
    total, saturation = f"{rule.dimension}_sum", rule.saturation
    rising, falling = 2 * rule.weight * engine.up * 10, 2 * rule.weight * engine.down * 10
    smaller = "LEAST" if connection.vendor == "postgresql" else "MIN"
    # No ELSE: a NULL sum matches neither branch (LEAST would skip a NULL argument).
    up = f"({smaller}({total}, {saturation}) * {rising} + {saturation}) / {2 * saturation}"
    down = f"({smaller}(-{total}, {saturation}) * {falling} + {saturation}) / {2 * saturation}"
    return f"CASE WHEN {total} >= 0 THEN {up} WHEN {total} < 0 THEN -({down}) END"


def _band_case(column: str, bands: Bands, value: str) -> str:
    """CASE mapping a score column to an attribute of its band (bands cover 350-950)."""
    by_floor = sorted(bands.bands, key=lambda band: band.min_score, reverse=True)
    whens = " ".join(
        f"WHEN {column} >= {band.min_score} THEN {getattr(band, value)}" for band in by_floor[:-1]
    )
    return f"CASE {whens} ELSE {getattr(by_floor[-1], value)} END"


def _rank_of_tier(column: str, bands: Bands) -> str:
    whens = " ".join(f"WHEN {band.id} THEN {band.rank}" for band in bands.bands)
    return f"CASE {column} {whens} END"
