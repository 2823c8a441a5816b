"""The set-based full recomputation: its ranges, its parallel connections, one run at a time.
tests/loyalty/scoring/test_sql.py holds its statements to the per-member Python path."""

import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection, connections

from loyalty.members.models import ConsentSource, Dimension
from loyalty.members.services import consent_set
from loyalty.scoring import bulk, sql
from loyalty.scoring.models import (
    PLATFORM_SOURCE,
    EventKind,
    MemberStanding,
    RecomputeCause,
    ScoreSnapshot,
    Tier,
    TierChange,
)
from loyalty.scoring.services import (
    ScoreEventInput,
    score_events_record,
    score_recompute,
    scores_recompute_all,
)
from tests.factories import JoinedMemberFactory

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
STANDING_FIELDS = ("score", "tier_id", "below_band_since", "engine_version")
SNAPSHOT_FIELDS = ("score", "tier_id", "engine_version", *sql.DIMENSION_COLUMNS)


def build_members(seed: int, count: int) -> list[int]:
    """Members with varied consent and histories: recent and old, near half-life edges,
    beyond the horizon, saturating, negative; some in a high tier already, some in grace."""
    rng = random.Random(seed)
    kinds = list(EventKind.objects.values_list("code", flat=True))
    tiers = list(Tier.objects.order_by("rank"))
    # Seen 800 days later, 3579 and 3580 straddle the horizon of a one-year half-life.
    ages = [0, 1, 182, 364, 365, 366, 729, 730, 1094, 1095, 2000, 3579, 3580, 3650]
    member_ids = []
    for index in range(count):
        member = JoinedMemberFactory.create()
        for dimension in rng.sample(Dimension.values, rng.randint(0, 5)):
            consent_set(member=member, dimension=dimension, granted=True, source=ConsentSource.SEED)
        events = [
            ScoreEventInput(
                external_id=f"{seed}-{index}-{number}",
                member_id=member.pk,
                kind=rng.choice(kinds),
                occurred_at=NOW
                - timedelta(days=rng.choice(ages) if rng.random() < 0.5 else rng.randint(0, 3000)),
            )
            for number in range(rng.choice([0, 1, 3, 10, 40]))
        ]
        score_events_record(source=PLATFORM_SOURCE, events=events)
        MemberStanding.objects.filter(member=member).update(
            tier=rng.choice(tiers),
            below_band_since=rng.choice([None, NOW - timedelta(days=rng.choice([1, 29, 30, 31, 90]))]),
        )
        member_ids.append(member.pk)
    return member_ids


def outcome(member_ids: list[int]) -> dict[int, tuple[object, ...]]:
    standings = {s.member_id: s for s in MemberStanding.objects.filter(member_id__in=member_ids)}
    result = {}
    for member_id in member_ids:
        snapshot = ScoreSnapshot.objects.filter(member_id=member_id).order_by("-computed_at", "-id").first()
        result[member_id] = (
            *(getattr(standings[member_id], name) for name in STANDING_FIELDS),
            *(getattr(snapshot, name) for name in SNAPSHOT_FIELDS),
        )
    return result


def standings_state(member_ids: list[int]) -> list[dict[str, Any]]:
    return list(MemberStanding.objects.filter(member_id__in=member_ids).values("member_id", *STANDING_FIELDS))


def restore(state: list[dict[str, Any]]) -> None:
    for row in state:
        MemberStanding.objects.filter(member_id=row["member_id"]).update(
            **{name: value for name, value in row.items() if name != "member_id"}
        )


@pytest.fixture(autouse=True)
def _at_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.django_db
def test_a_second_run_on_the_same_day_changes_nothing(settings):
    settings.SCORE_BULK_WORKERS = 1
    member_ids = build_members(4, 15)
    scores_recompute_all(now=NOW)
    snapshots = ScoreSnapshot.objects.count()
    changes = TierChange.objects.count()

    again = scores_recompute_all(now=NOW)

    assert (again.changed, again.tier_changes) == (0, 0)
    assert (ScoreSnapshot.objects.count(), TierChange.objects.count()) == (snapshots, changes)
    assert ScoreSnapshot.objects.filter(member_id__in=member_ids, cause=RecomputeCause.NIGHTLY).exists()


@pytest.mark.django_db
def test_a_standing_changed_after_the_aggregate_read_it_is_left_alone(settings, monkeypatch):
    member_ids = build_members(5, 6)
    original = bulk._apply_range

    def someone_recomputes_first(*args, **kwargs):
        MemberStanding.objects.filter(member_id=member_ids[0]).update(score=777, version=999)
        return original(*args, **kwargs)

    monkeypatch.setattr(bulk, "_apply_range", someone_recomputes_first)

    bulk.recompute_all(now=NOW, chunk_size=1000, workers=1)

    assert MemberStanding.objects.get(member_id=member_ids[0]).score == 777
    assert not ScoreSnapshot.objects.filter(member_id=member_ids[0], cause=RecomputeCause.NIGHTLY).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_ranges_on_several_connections_give_the_same_result(settings):
    member_ids = build_members(6, 30)
    before = standings_state(member_ids)
    score_recompute(member_ids=member_ids, now=NOW)
    python_path = outcome(member_ids)
    restore(before)

    result = bulk.recompute_all(now=NOW, chunk_size=5, workers=3)

    assert outcome(member_ids) == python_path
    assert result.changed == ScoreSnapshot.objects.filter(cause=RecomputeCause.NIGHTLY).count() > 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_only_one_full_run_at_a_time():
    build_members(7, 3)
    holder_ready, release = threading.Event(), threading.Event()

    def hold_the_run_lock():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [sql.RUN_LOCK])
            holder_ready.set()
            release.wait(timeout=30)
            cursor.execute("SELECT pg_advisory_unlock(%s)", [sql.RUN_LOCK])
        connections.close_all()

    holder = threading.Thread(target=hold_the_run_lock)
    holder.start()
    holder_ready.wait(timeout=30)
    try:
        skipped = bulk.recompute_all(now=NOW, chunk_size=100, workers=1)
    finally:
        release.set()
        holder.join()

    assert skipped.ran is False
    assert bulk.recompute_all(now=NOW, chunk_size=100, workers=1).ran is True
