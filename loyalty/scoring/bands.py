"""Tier bands and the hysteresis rule, shared by the per-member path and the bulk SQL.

Upgrades apply at once. A score below the current tier's band starts a grace period
(`below_band_since`); if the score is still below when it ends, the member moves to the
band the score is in then. A score back inside the band ends the grace period.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from django.conf import settings

from loyalty.scoring.models import SCORE_MAX, SCORE_MIN, Tier


@dataclass(frozen=True)
class Band:
    id: int
    slug: str
    rank: int
    min_score: int
    max_score: int


@dataclass(frozen=True)
class Bands:
    """The tier bands in force, ordered by rank; they cover 350-950 without gap or overlap."""

    bands: tuple[Band, ...]

    @classmethod
    def load(cls) -> "Bands":
        return cls(
            tuple(Band(t.pk, t.slug, t.rank, t.min_score, t.max_score) for t in Tier.objects.order_by("rank"))
        )

    def for_score(self, score: int) -> Band:
        return next(band for band in self.bands if band.min_score <= score <= band.max_score)

    def by_id(self, tier_id: int) -> Band:
        return next(band for band in self.bands if band.id == tier_id)


def grace_period() -> timedelta:
    return timedelta(days=settings.TIER_DOWNGRADE_GRACE_DAYS)


def tier_after(
    *, current: Band, band: Band, below_band_since: datetime | None, now: datetime
) -> tuple[Band, datetime | None]:
    """The tier a member holds after a recomputation, and since when its score is below it."""
    if band.rank >= current.rank:
        return band, None
    since = below_band_since or now
    if since <= now - grace_period():
        return band, None
    return current, since


def band_problems(bands: Sequence[tuple[int, int, int]]) -> list[str]:
    """What is wrong with a set of (rank, min_score, max_score) bands; empty when they are usable."""
    ordered = sorted(bands)
    if not ordered:
        return ["There must be at least one tier."]
    problems = []
    if ordered[0][1] != SCORE_MIN or ordered[-1][2] != SCORE_MAX:
        problems.append(f"The tiers must cover every score from {SCORE_MIN} to {SCORE_MAX}.")
    for (rank, _low, high), (next_rank, next_low, _next_high) in pairwise(ordered):
        if next_low != high + 1:
            problems.append(
                f"Tiers {rank} and {next_rank} must meet: the next starts at {high + 1}, not {next_low}."
            )
    if any(low > high for _rank, low, high in ordered):
        problems.append("A band's minimum score may not exceed its maximum.")
    return problems
