"""Standings: created at the baseline, recomputed when their inputs change, nightly in bulk.

The per-member path (`score_recompute`) runs the engine in Python on rows it has locked;
the full recomputation (`scores_recompute_all`) is set-based SQL (`bulk.py`). Both write
the same standings, snapshots and tier changes, and agree exactly.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from loyalty.members.models import Member
from loyalty.scoring import bulk
from loyalty.scoring.bands import Band, Bands, grace_period, tier_after
from loyalty.scoring.engine import ENGINE, Computation, EventFact, compute, epoch_day
from loyalty.scoring.events import TierChangeNotice, announce_on_commit
from loyalty.scoring.models import (
    DIMENSION_BITS,
    DISPUTE_NOT_COUNTING_STATUSES,
    MemberStanding,
    RecomputeCause,
    RecomputeRequest,
    ScoreEvent,
    ScoreSnapshot,
    TierChange,
    TierChangeCause,
)
from loyalty.scoring.tasks import recompute_pending

log = logging.getLogger(__name__)

RECOMPUTE_CHUNK = 1000
DEBOUNCE_KEY = "scoring:recompute-scheduled"


@dataclass(frozen=True)
class RecomputeOutcome:
    members: int
    tier_changes: int


def standing_create(*, member: Member, now: datetime | None = None) -> MemberStanding:
    """A new member's standing at the baseline, with the snapshot that explains it."""
    now = now or timezone.now()
    computation = compute([], (), epoch_day(now))
    band = Bands.load().for_score(computation.score)
    with transaction.atomic():
        standing = MemberStanding.objects.create(
            member=member,
            score=computation.score,
            tier_id=band.id,
            engine_version=ENGINE.version,
            updated_at=now,
        )
        ScoreSnapshot.objects.create(
            **_snapshot_fields(member.pk, computation, band, RecomputeCause.JOINED, now)
        )
        TierChange.objects.create(
            member=member,
            tier_id=band.id,
            score=computation.score,
            cause=TierChangeCause.JOINED,
            changed_at=now,
        )
        announce_on_commit([TierChangeNotice(member.pk, None, band.slug, now)])
    return standing


def standing_consent_apply(*, member_id: int, dimension: str, granted: bool) -> None:
    """Copy one consent choice into the engine's view and have the member recomputed."""
    bit = DIMENSION_BITS[dimension]
    shared = F("shared_dimensions").bitor(bit) if granted else F("shared_dimensions").bitand(~bit & 0x7FFF)
    with transaction.atomic():
        MemberStanding.objects.filter(member_id=member_id).update(shared_dimensions=shared)
        recompute_request(member_ids=[member_id], cause=RecomputeCause.CONSENT)


def recompute_request(*, member_ids: Iterable[int], cause: RecomputeCause) -> None:
    """Queue members for recomputation; one debounced task picks up everything queued."""
    RecomputeRequest.objects.bulk_create(
        [RecomputeRequest(member_id=member_id, cause=cause) for member_id in sorted(set(member_ids))]
    )
    transaction.on_commit(_schedule_pending_recompute, robust=True)


def score_recompute(
    *,
    member_ids: Iterable[int],
    cause: RecomputeCause = RecomputeCause.REQUESTED,
    now: datetime | None = None,
) -> RecomputeOutcome:
    """Recompute these members now, a thousand at a time, each thousand in one transaction."""
    now = now or timezone.now()
    members = tier_changes = 0
    for chunk in _chunks(sorted(set(member_ids)), RECOMPUTE_CHUNK):
        outcome = _recompute_locked(chunk, dict.fromkeys(chunk, cause), now)
        members += outcome.members
        tier_changes += outcome.tier_changes
    return RecomputeOutcome(members=members, tier_changes=tier_changes)


def score_recompute_pending(*, limit: int = RECOMPUTE_CHUNK, now: datetime | None = None) -> int:
    """Recompute up to `limit` queued requests; returns how many it took (0 when none wait)."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = list(
            RecomputeRequest.objects.select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("id", "member_id", "cause")[:limit]
        )
        if not claimed:
            return 0
        causes: dict[int, RecomputeCause] = {}
        for _, member_id, cause in claimed:
            # A consent change says more about the new snapshot than "new data" does.
            if causes.get(member_id) != RecomputeCause.CONSENT:
                causes[member_id] = RecomputeCause(cause)
        _recompute_locked(sorted(causes), causes, now)
        # Only the rows read: a request queued meanwhile may carry events this run missed.
        RecomputeRequest.objects.filter(id__in=[request_id for request_id, _, _ in claimed]).delete()
    return len(claimed)


def scores_recompute_all(*, now: datetime | None = None) -> bulk.BulkOutcome:
    """The nightly full recomputation: decay moves scores even when nothing new arrives."""
    return bulk.recompute_all(
        now=now or timezone.now(),
        chunk_size=settings.SCORE_BULK_CHUNK_SIZE,
        workers=settings.SCORE_BULK_WORKERS,
    )


def tiers_downgrade_due(*, now: datetime | None = None) -> RecomputeOutcome:
    """Members whose grace period has run out are recomputed, which applies the downgrade."""
    now = now or timezone.now()
    due = MemberStanding.objects.filter(below_band_since__lte=now - grace_period())
    return score_recompute(
        member_ids=due.values_list("member_id", flat=True), cause=RecomputeCause.GRACE, now=now
    )


def _recompute_locked(
    member_ids: list[int], causes: dict[int, RecomputeCause], now: datetime
) -> RecomputeOutcome:
    asof = epoch_day(now)
    bands = Bands.load()
    with transaction.atomic():
        standings = list(_locked(member_ids))
        facts = _event_facts(member_ids, asof)
        snapshots, changes, notices = [], [], []
        for standing in standings:
            computation = compute(facts[standing.member_id], _shared(standing.shared_dimensions), asof)
            current = bands.by_id(standing.tier_id)
            tier, since = tier_after(
                current=current,
                band=bands.for_score(computation.score),
                below_band_since=standing.below_band_since,
                now=now,
            )
            cause = causes[standing.member_id]
            snapshots.append(
                ScoreSnapshot(**_snapshot_fields(standing.member_id, computation, tier, cause, now))
            )
            if tier.id != current.id:
                changes.append(_tier_change(standing, current, tier, computation.score, now))
                notices.append(TierChangeNotice(standing.member_id, current.slug, tier.slug, now))
            standing.score, standing.tier_id, standing.below_band_since = computation.score, tier.id, since
            standing.engine_version, standing.updated_at = ENGINE.version, now
            standing.version = F("version") + 1
        MemberStanding.objects.bulk_update(
            standings, ["score", "tier", "below_band_since", "engine_version", "version", "updated_at"]
        )
        ScoreSnapshot.objects.bulk_create(snapshots)
        TierChange.objects.bulk_create(changes)
        announce_on_commit(notices)
    return RecomputeOutcome(members=len(standings), tier_changes=len(changes))


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _locked(member_ids: list[int]) -> QuerySet[MemberStanding]:
    return (
        MemberStanding.objects.select_for_update(of=("self",))
        .filter(member_id__in=member_ids)
        .order_by("member_id")
    )


def _event_facts(member_ids: list[int], asof: int) -> dict[int, list[EventFact]]:
    """The members' events that count: not past a cap, and not disputed (unless upheld)."""
    facts: dict[int, list[EventFact]] = defaultdict(list)
    rows = (
        ScoreEvent.objects.filter(member_id__in=member_ids, occurred_day__lte=asof, cap="")
        .exclude(dispute__status__in=DISPUTE_NOT_COUNTING_STATUSES)
        .values_list("member_id", "dimension", "impact", "occurred_day")
    )
    for member_id, dimension, impact, day in rows:
        facts[member_id].append(EventFact(dimension, impact, day))
    return facts


def _shared(bits: int) -> list[str]:
    return [dimension for dimension, bit in DIMENSION_BITS.items() if bits & bit]


def _snapshot_fields(
    member_id: int, computation: Computation, tier: Band, cause: RecomputeCause, now: datetime
) -> dict[str, object]:
    fields: dict[str, object] = {
        "member_id": member_id,
        "computed_at": now,
        "cause": cause,
        "engine_version": ENGINE.version,
        "score": computation.score,
        "tier_id": tier.id,
    }
    for dimension in DIMENSION_BITS:
        fields[f"{dimension}_sum"] = computation.sums[dimension]
        fields[f"{dimension}_milli"] = computation.milli[dimension]
    return fields


def _tier_change(
    standing: MemberStanding, current: Band, tier: Band, score: int, now: datetime
) -> TierChange:
    cause = TierChangeCause.UPGRADE if tier.rank > current.rank else TierChangeCause.DOWNGRADE
    return TierChange(
        member_id=standing.member_id,
        previous_tier_id=current.id,
        tier_id=tier.id,
        score=score,
        cause=cause,
        changed_at=now,
    )


def _schedule_pending_recompute() -> None:
    delay = settings.SCORE_RECOMPUTE_DEBOUNCE_SECONDS
    # The running task clears the key before it claims requests, so nothing queued after
    # that point waits for the safety sweep in the beat schedule. A send the broker refused
    # clears it too, so the next request tries again rather than wait for the sweep.
    scheduling = cache.add(DEBOUNCE_KEY, 1, timeout=max(60, delay * 4))
    if scheduling and not recompute_pending.enqueue_committed(countdown=delay):
        cache.delete(DEBOUNCE_KEY)
