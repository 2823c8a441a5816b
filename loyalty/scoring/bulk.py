"""The full recomputation, set-based: the database does the arithmetic of `engine.py`.

One statement aggregates every member's decayed per-dimension sums (GROUP BY over the
events, in parallel on PostgreSQL), applies consent, the contributions, the score and the
tier rule, and keeps the members whose standing changes in a run table. Then, range of
members by range of members, one short transaction each writes their standings, snapshots
and tier changes, on several connections at once. A standing that changed after the
aggregate read it (its `version` moved) is left alone: whoever changed it recomputed it
from newer data.

The statements are in `sql.py`, their expressions built from the same constants as
`engine.py` with only integer arithmetic, so both paths agree exactly;
tests/loyalty/scoring/test_sql.py checks it.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from loyalty.scoring import sql
from loyalty.scoring.bands import Bands, grace_period
from loyalty.scoring.engine import ENGINE, Engine, epoch_day
from loyalty.scoring.events import TierChangeNotice, announce_on_commit

# bench/score_recompute.py times its floor with these two.


@dataclass(frozen=True)
class BulkOutcome:
    changed: int
    tier_changes: int
    ran: bool = True


def recompute_all(*, now: datetime, chunk_size: int, workers: int, engine: Engine = ENGINE) -> BulkOutcome:
    """Recompute every member as of `now`; returns quietly if another run holds the lock."""
    with sql.only_run() as alone:
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
            low, high = sql.run_table_build(engine, bands, params)
            size = _range_size(low, high, chunk_size, workers)
            starts = list(range(low, high + 1, size)) if high else []
            results = _apply_all(starts, size, params, bands, now, workers)
        finally:
            sql.run_table_drop()
    return BulkOutcome(changed=sum(r[0] for r in results), tier_changes=sum(r[1] for r in results))


def _range_size(low: int, high: int, chunk_size: int, workers: int) -> int:
    """Enough ranges for every connection to have one, none longer than `chunk_size`."""
    members = high - low + 1
    return max(1, min(chunk_size, -(-members // max(1, workers))))


def _apply_all(
    starts: list[int], chunk_size: int, params: dict[str, Any], bands: Bands, now: datetime, workers: int
) -> list[tuple[int, int]]:
    def apply_share(share: list[int]) -> list[tuple[int, int]]:
        with sql.batch_session():
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
    with transaction.atomic():
        applied, changes = sql.run_range_apply(chunk)
        slugs = {band.id: band.slug for band in bands.bands}
        announce_on_commit(
            [
                TierChangeNotice(member_id, slugs[previous_id], slugs[tier_id], now)
                for member_id, previous_id, tier_id in changes
            ]
        )
    return applied, len(changes)
