"""score_recompute: the nightly full recomputation against one SQL aggregate of the same events.

Ours: `scores_recompute_all()`, everything the nightly job does: every member's decayed
per-dimension sums, consent, contributions, score and tier rule, then the standings,
snapshots and tier changes written for every member whose standing changes. Timed on a
cold start (the members' standings are spread over the tiers, so nearly all change).

Floor: the fastest plain means of the same arithmetic, one SQL aggregate computing every
member's decayed per-dimension sums, with the same session settings, consumed in the
database. Runs alternate, best of three each.

It builds its own database (`<database>_bench_score_recompute`, dropped afterwards):
members through `seed_demo --members`'s bulk path, events by one set-based INSERT.
"""

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from bench.result import BenchResult, stopwatch
from demo.synthetic import synthetic_members_add
from loyalty.scoring import bulk, sql
from loyalty.scoring.engine import ENGINE, epoch_day
from loyalty.scoring.models import EventKind
from loyalty.scoring.services import scores_recompute_all

SCALE = {"quick": (100_000, 1_000_000), "full": (1_000_000, 10_000_000)}
RUNS = 3
HISTORY_DAYS = 3 * 365
SOURCE = "mch_0000000000000000bnch"


def run(scale: str) -> BenchResult:
    members, events = SCALE[scale]
    with _own_database():
        now = timezone.now()
        _load(members, events, now)
        floor, ours, outcome = _alternating(now)
        steady = _timed(lambda: scores_recompute_all(now=now + timedelta(days=1)))
    return BenchResult(
        name="score_recompute",
        metric="full recomputation of every member's score (wall time)",
        value=round(ours, 3),
        unit="s",
        floor=round(floor, 3),
        slowdown=round(ours / floor, 2),
        scale={
            "members": members,
            "events": events,
            "database": connection.vendor,
            "standings_changed": outcome.changed,
            "tier_changes": outcome.tier_changes,
        },
        notes=(
            "Ours writes a standing and a snapshot for every member whose standing changes (cold start: "
            f"{outcome.changed} of {members}) and a tier change for {outcome.tier_changes}; floor is one SQL "
            "aggregate of the same decayed per-dimension sums. Best of "
            f"{RUNS} each, alternating. The next night (one day of decay later) took {steady:.2f} s."
        ),
    )


@contextmanager
def _own_database() -> Iterator[None]:
    test_settings = settings.DATABASES["default"].setdefault("TEST", {})
    saved = test_settings.get("NAME")
    name = settings.DATABASES["default"]["NAME"]
    if connection.vendor == "sqlite":
        test_settings["NAME"] = str(settings.VAR_DIR / "bench_score_recompute.sqlite3")
    else:
        test_settings["NAME"] = f"{name}_bench_score_recompute"
    original = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)
        test_settings["NAME"] = saved


def _load(members: int, events: int, now: datetime) -> None:
    synthetic_members_add(count=members, seed=7)
    kinds = list(EventKind.objects.values_list("code", "dimension", "impact"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(id), MAX(id) FROM members_member")
        low, high = cursor.fetchone()
        if connection.vendor == "postgresql":
            _load_events_postgres(cursor, events, low, high, kinds, now)
        else:
            _load_events_python(cursor, events, low, high, kinds, now)
        cursor.execute(
            "CREATE TABLE bench_standing AS SELECT member_id, score, tier_id, below_band_since, version "
            "FROM scoring_memberstanding"
        )
    _settle()


def _load_events_postgres(
    cursor: Any, events: int, low: int, high: int, kinds: list[Any], now: datetime
) -> None:
    cursor.execute("SELECT setseed(0.7)")
    cursor.execute(
        "CREATE TEMPORARY TABLE bench_kind AS SELECT * FROM (VALUES "  # nosec B608  # the benchmark's own tables; values are bound parameters
        + ", ".join(["(%s, %s, %s, %s)"] * len(kinds))
        + ") AS k(position, code, dimension, impact)",
        [value for position, kind in enumerate(kinds) for value in (position, *kind)],
    )
    cursor.execute(
        """
        INSERT INTO scoring_scoreevent (member_id, source, external_id, kind, dimension, impact, occurred_at,
            occurred_day, amount, currency, recorded_at)
        SELECT e.member_id, %(source)s, 'b' || e.n, k.code, k.dimension, k.impact,
            %(now)s - make_interval(days => e.age), %(today)s - e.age, NULL, '', %(now)s
        FROM (
            SELECT n, %(low)s + floor(random() * %(members)s)::bigint AS member_id,
                floor(random() * %(days)s)::int AS age, floor(random() * %(kinds)s)::int AS position
            FROM generate_series(1, %(events)s) AS n
        ) e
        JOIN bench_kind k ON k.position = e.position
        """,
        {
            "source": SOURCE,
            "now": now,
            "today": epoch_day(now),
            "low": low,
            "members": high - low + 1,
            "days": HISTORY_DAYS,
            "kinds": len(kinds),
            "events": events,
        },
    )


def _load_events_python(
    cursor: Any, events: int, low: int, high: int, kinds: list[Any], now: datetime
) -> None:
    rng = random.Random(7)  # nosec B311  # seeded for repeatable benchmark data, not for secrets
    today = epoch_day(now)
    rows = []
    for n in range(events):
        code, dimension, impact = rng.choice(kinds)
        age = rng.randrange(HISTORY_DAYS)
        occurred = connection.ops.adapt_datetimefield_value(now - timedelta(days=age))
        recorded = connection.ops.adapt_datetimefield_value(now)
        rows.append(
            (
                rng.randint(low, high),
                SOURCE,
                f"b{n}",
                code,
                dimension,
                impact,
                occurred,
                today - age,
                recorded,
            )
        )
    cursor.executemany(
        "INSERT INTO scoring_scoreevent (member_id, source, external_id, kind, dimension, impact, "
        "occurred_at, occurred_day, currency, recorded_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '', %s)",
        rows,
    )


def _settle() -> None:
    """What a production table looks like at night: vacuumed and analysed."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def _floor(now: datetime) -> None:
    totals = ", ".join(f"SUM({rule.dimension})" for rule in ENGINE.rules)
    with sql.batch_session(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), {totals} FROM ({sql.decayed_sums_sql()}) sums",  # nosec B608  # the benchmark's own tables; values are bound parameters
            {"asof": epoch_day(now)},
        )
        cursor.fetchall()


def _alternating(now: datetime) -> tuple[float, float, bulk.BulkOutcome]:
    floors, ours, outcome = [], [], None
    for _ in range(RUNS):
        floors.append(_timed(lambda: _floor(now)))
        _restore()
        with stopwatch() as watch:
            outcome = scores_recompute_all(now=now)
        ours.append(watch.seconds)
    assert outcome is not None
    return min(floors), min(ours), outcome


def _restore() -> None:
    """Put every standing back as loaded and forget the last run's snapshots and tier changes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scoring_memberstanding SET score = b.score, tier_id = b.tier_id, "
            "below_band_since = b.below_band_since, version = b.version "
            "FROM bench_standing b WHERE scoring_memberstanding.member_id = b.member_id"
        )
        empty = "TRUNCATE {}" if connection.vendor == "postgresql" else "DELETE FROM {}"
        for table in ("scoring_scoresnapshot", "scoring_tierchange"):
            cursor.execute(empty.format(table))
    _settle()


def _timed(action: Callable[[], object]) -> float:
    with stopwatch() as watch:
        action()
    return watch.seconds
