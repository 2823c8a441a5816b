# ruff: noqa: S608  (every piece of SQL here is built from constants; values go as parameters)
"""The full recomputation, set-based: the database does the arithmetic of `engine.py`.

One statement aggregates every member's decayed per-dimension sums (GROUP BY over the
events, in parallel on PostgreSQL), applies consent, the contributions, the score and the
tier rule, and keeps the members whose standing changes in a run table. Then, range of
members by range of members, one short transaction each writes their standings, snapshots
and tier changes, on several connections at once. A standing that changed after the
aggregate read it (its `version` moved) is left alone: whoever changed it recomputed it
from newer data.

The expressions are built from the same constants as `engine.py` and use only integer
arithmetic, so both paths agree exactly; tests/loyalty/scoring/test_bulk.py checks it.
"""

import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from loyalty.scoring.bands import Bands, grace_period
from loyalty.scoring.engine import (
    ENGINE,
    HALF_WEIGHT,
    HORIZON_HALF_LIVES,
    MILLI,
    DimensionRule,
    Engine,
    epoch_day,
)
from loyalty.scoring.events import TierChangeNotice, announce_on_commit
from loyalty.scoring.models import (
    DIMENSION_BITS,
    MemberStanding,
    RecomputeCause,
    ScoreEvent,
    ScoreSnapshot,
    TierChange,
    TierChangeCause,
)

RUN_TABLE = "scoring_recompute_run"
DIMENSION_COLUMNS = [f"{rule.dimension}_{part}" for rule in ENGINE.rules for part in ("sum", "milli")]
_RUN_LOCK = zlib.crc32(RUN_TABLE.encode())


@dataclass(frozen=True)
class BulkOutcome:
    changed: int
    tier_changes: int
    ran: bool = True


def recompute_all(*, now: datetime, chunk_size: int, workers: int, engine: Engine = ENGINE) -> BulkOutcome:
    """Recompute every member as of `now`; returns quietly if another run holds the lock."""
    with _only_run() as alone:
        if not alone:
            return BulkOutcome(changed=0, tier_changes=0, ran=False)
        bands = Bands.load()
        params = {
            "asof": epoch_day(now),
            "now": connection.ops.adapt_datetimefield_value(now),
            "due_before": connection.ops.adapt_datetimefield_value(now - grace_period()),
            "engine_version": engine.version,
        }
        try:
            low, high = _build_run_table(engine, bands, params)
            size = _range_size(low, high, chunk_size, workers)
            starts = list(range(low, high + 1, size)) if high else []
            results = _apply_all(starts, size, params, bands, now, workers)
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {RUN_TABLE}")
    return BulkOutcome(changed=sum(r[0] for r in results), tier_changes=sum(r[1] for r in results))


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


def decayed_sums_sql(engine: Engine = ENGINE) -> str:
    """Each member's decayed sum per dimension: the aggregate the benchmark's floor times too."""
    sums = ", ".join(_decayed_sum_sql(rule) for rule in engine.rules)
    return (
        f"SELECT member_id, {sums} FROM {ScoreEvent._meta.db_table} "
        "WHERE occurred_day <= CAST(%(asof)s AS INTEGER) GROUP BY member_id"
    )


@contextmanager
def _only_run() -> Iterator[bool]:
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_RUN_LOCK])
        (alone,) = cursor.fetchone()
    try:
        yield alone
    finally:
        if alone:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_RUN_LOCK])


def _build_run_table(engine: Engine, bands: Bands, params: dict[str, Any]) -> tuple[int, int]:
    """The run table, and the lowest and highest member id in it (0, 0 when empty)."""
    # Unlogged on PostgreSQL, so other connections can apply ranges of it in parallel; a
    # crash loses only the run, which the next one redoes.
    kind = "UNLOGGED" if connection.vendor == "postgresql" else "TEMPORARY"
    with batch_session(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {RUN_TABLE}")
        cursor.execute(f"CREATE {kind} TABLE {RUN_TABLE} AS {_changes_sql(engine, bands)}", params)
        cursor.execute(f"CREATE INDEX {RUN_TABLE}_member ON {RUN_TABLE} (member_id)")
        cursor.execute(f"SELECT MIN(member_id), MAX(member_id) FROM {RUN_TABLE}")
        low, high = cursor.fetchone()
    return (low, high) if low is not None else (0, 0)


def _range_size(low: int, high: int, chunk_size: int, workers: int) -> int:
    """Enough ranges for every connection to have one, none longer than `chunk_size`."""
    members = high - low + 1
    return max(1, min(chunk_size, -(-members // max(1, workers))))


def _apply_all(
    starts: list[int], chunk_size: int, params: dict[str, Any], bands: Bands, now: datetime, workers: int
) -> list[tuple[int, int]]:
    def apply_share(share: list[int]) -> list[tuple[int, int]]:
        with batch_session():
            return [_apply_range(start, start + chunk_size, params, bands, now) for start in share]

    # Other connections see the run table only once it is committed, outside any transaction.
    if workers <= 1 or connection.vendor != "postgresql" or len(starts) <= 1 or connection.in_atomic_block:
        return apply_share(starts)

    def apply_share_apart(share: list[int]) -> list[tuple[int, int]]:
        try:
            return apply_share(share)
        finally:
            connection.close()

    shares = [starts[index::workers] for index in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [result for share in pool.map(apply_share_apart, shares) for result in share]


def _apply_range(
    start: int, stop: int, params: dict[str, Any], bands: Bands, now: datetime
) -> tuple[int, int]:
    chunk = {**params, "start": start, "stop": stop}
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_APPLY_POSTGRES, chunk)
            rows = cursor.fetchall()
            applied = rows[0][0] if rows else 0
            changes = [row[1:] for row in rows if row[1] is not None]
        else:
            cursor.execute(_APPLY_SNAPSHOTS, chunk)
            applied = cursor.rowcount
            cursor.execute(_APPLY_TIER_CHANGES, chunk)
            changes = cursor.fetchall()
            cursor.execute(_APPLY_STANDINGS, chunk)
        slugs = {band.id: band.slug for band in bands.bands}
        announce_on_commit(
            [
                TierChangeNotice(member_id, slugs[previous_id], slugs[tier_id], now)
                for member_id, previous_id, tier_id in changes
            ]
        )
    return applied, len(changes)


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


def _changes_sql(engine: Engine, bands: Bands) -> str:
    """The members whose standing a recomputation now changes, with everything to write."""
    rules = engine.rules
    consented_sums = ", ".join(
        f"CASE WHEN (s.shared_dimensions & {DIMENSION_BITS[rule.dimension]}) <> 0 "
        f"THEN COALESCE(e.{rule.dimension}, 0) END AS {rule.dimension}_sum"
        for rule in rules
    )
    milli = ", ".join(f"{_contribution_sql(engine, rule)} AS {rule.dimension}_milli" for rule in rules)
    total = " + ".join(f"COALESCE({_contribution_sql(engine, rule)}, 0)" for rule in rules)
    upgrade_or_same = "band_rank >= old_rank"
    due = "COALESCE(old_bbs, %(now)s) <= %(due_before)s"
    # MATERIALIZED keeps the score arithmetic from being inlined into the tier rule above
    # it, which names the score a dozen times per row.
    return f"""
        WITH summed AS (
            SELECT s.member_id, s.version, s.tier_id AS old_tier_id, s.score AS old_score,
                s.below_band_since AS old_bbs, s.engine_version AS old_engine, {consented_sums}
            FROM {MemberStanding._meta.db_table} s
            LEFT JOIN ({decayed_sums_sql(engine)}) e ON e.member_id = s.member_id
        ), scored AS MATERIALIZED (
            SELECT summed.*, {milli}, {_score_sql(engine, total)} AS score FROM summed
        ), banded AS (
            SELECT scored.*,
                {_band_case("score", bands, "id")} AS band_tier_id,
                {_band_case("score", bands, "rank")} AS band_rank,
                {_rank_of_tier("old_tier_id", bands)} AS old_rank,
                {due} AS due
            FROM scored
        ), decided AS (
            SELECT banded.*,
                CASE WHEN {upgrade_or_same} OR due THEN band_tier_id ELSE old_tier_id END AS tier_id,
                CASE WHEN {upgrade_or_same} OR due THEN NULL ELSE COALESCE(old_bbs, %(now)s) END
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
    """


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
_STANDINGS = MemberStanding._meta.db_table
_SNAPSHOTS = ScoreSnapshot._meta.db_table
_TIER_CHANGES = TierChange._meta.db_table

# PostgreSQL: one statement a range; the UPDATE's row locks and version check decide which
# members are written, and the snapshots and tier changes follow from exactly those rows.
_APPLY_POSTGRES = f"""
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
"""

# SQLite has one writer at a time, so the three statements see the same rows.
_MATCHING = f"{RUN_TABLE} r JOIN {_STANDINGS} s ON s.member_id = r.member_id AND s.version = r.version"
_APPLY_SNAPSHOTS = f"""
    INSERT INTO {_SNAPSHOTS} ({_SNAPSHOT_COLUMNS})
    SELECT {_SNAPSHOT_VALUES} FROM {_MATCHING} WHERE {_IN_RANGE}
"""
_APPLY_TIER_CHANGES = f"""
    INSERT INTO {_TIER_CHANGES} ({_TIER_CHANGE_COLUMNS})
    SELECT {_TIER_CHANGE_VALUES} FROM {_MATCHING} WHERE {_IN_RANGE} AND r.tier_change IS NOT NULL
    RETURNING member_id, previous_tier_id, tier_id
"""
_APPLY_STANDINGS = f"""
    UPDATE {_STANDINGS} SET {_STANDING_SET.format(standing=_STANDINGS)}
    FROM {RUN_TABLE} r
    WHERE {_STANDINGS}.member_id = r.member_id AND {_STANDINGS}.version = r.version AND {_IN_RANGE}
"""
