"""The score engine: a pure, deterministic function of events, consent and a day.

Everything is integer arithmetic, so this module and the set-based SQL in `sql.py` (run
by `bulk.py`), which builds its expressions from the same constants, agree to the last
digit. docs/scoring.md
explains the formula with a worked example.

- An event's weight halves every half-life of its dimension and is interpolated linearly
  between halvings; after `HORIZON_HALF_LIVES` it is zero. A new event weighs
  `FULL_WEIGHT_PER_HALF_LIFE_DAY * half_life` (so sums stay integers).
- A dimension's decayed sum is the sum of impact * weight over its events, if the member
  shares that dimension; otherwise the dimension is left out altogether.
- The sum saturates at +/- `cap` impact points; the share of the cap, times the dimension's
  weight, moves the score from the baseline up to 950 or down to 350.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from loyalty.members.models import Dimension
from loyalty.scoring.models import SCORE_MAX, SCORE_MIN

HALF_WEIGHT = 2048
FULL_WEIGHT_PER_HALF_LIFE_DAY = 2 * HALF_WEIGHT
HORIZON_HALF_LIVES = 12
MILLI = 1000
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class DimensionRule:
    dimension: str
    weight: int
    half_life_days: int
    cap: int
    # What the member can do to raise it, for "two more on-time payments: about +12".
    lift_kind: str
    lift_count: int

    @property
    def saturation(self) -> int:
        """The decayed sum at which the dimension gives all it can."""
        return self.cap * FULL_WEIGHT_PER_HALF_LIFE_DAY * self.half_life_days


@dataclass(frozen=True)
class Engine:
    version: int
    baseline: int
    rules: tuple[DimensionRule, ...]

    @property
    def up(self) -> int:
        return SCORE_MAX - self.baseline

    @property
    def down(self) -> int:
        return self.baseline - SCORE_MIN

    def rule(self, dimension: str) -> DimensionRule:
        return next(rule for rule in self.rules if rule.dimension == dimension)


ENGINE = Engine(
    version=1,
    baseline=500,
    rules=(
        DimensionRule(Dimension.PAYMENT_HISTORY, 35, 365, 120, "payment_on_time", 2),
        DimensionRule(Dimension.FULFILMENT, 25, 365, 80, "rental_returned_on_time", 2),
        DimensionRule(Dimension.TENURE, 15, 730, 60, "purchase", 5),
        DimensionRule(Dimension.IDENTITY, 15, 1095, 40, "identity_verified", 1),
        DimensionRule(Dimension.ASSETS, 10, 365, 50, "asset_declared", 1),
    ),
)
ENGINES = {ENGINE.version: ENGINE}


@dataclass(frozen=True)
class EventFact:
    dimension: str
    impact: int
    occurred_day: int


@dataclass(frozen=True)
class Computation:
    score: int
    sums: dict[str, int | None]
    milli: dict[str, int | None]


def epoch_day(moment: datetime) -> int:
    """The UTC calendar day of a moment, counted from 1970-01-01: the unit decay counts in."""
    return (moment.astimezone(UTC).date() - EPOCH).days


def event_weight(age_days: int, half_life_days: int) -> int:
    halvings, into = divmod(age_days, half_life_days)
    if halvings >= HORIZON_HALF_LIVES:
        return 0
    return (HALF_WEIGHT >> halvings) * (2 * half_life_days - into)


def round_half_away(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero (denominator > 0), as the SQL does."""
    if numerator < 0:
        return -((-numerator * 2 + denominator) // (2 * denominator))
    return (numerator * 2 + denominator) // (2 * denominator)


def contribution_milli(engine: Engine, rule: DimensionRule, decayed_sum: int) -> int:
    clamped = max(-rule.saturation, min(rule.saturation, decayed_sum))
    span = engine.up if clamped >= 0 else engine.down
    return round_half_away(clamped * rule.weight * span * 10, rule.saturation)


def score_of(engine: Engine, milli: Iterable[int | None]) -> int:
    """The baseline plus the contributions, rounded to the nearest point (halves round up)."""
    return engine.baseline + (sum(m for m in milli if m is not None) + MILLI // 2) // MILLI


def compute(
    events: Iterable[EventFact], consented: Iterable[str], asof_day: int, engine: Engine = ENGINE
) -> Computation:
    shared = set(consented)
    sums: dict[str, int | None] = {
        rule.dimension: 0 if rule.dimension in shared else None for rule in engine.rules
    }
    half_lives = {rule.dimension: rule.half_life_days for rule in engine.rules}
    for event in events:
        if sums.get(event.dimension) is None or event.occurred_day > asof_day:
            continue
        weight = event_weight(asof_day - event.occurred_day, half_lives[event.dimension])
        sums[event.dimension] = (sums[event.dimension] or 0) + event.impact * weight
    return from_sums(sums, engine)


def from_sums(sums: Mapping[str, int | None], engine: Engine = ENGINE) -> Computation:
    milli = {
        rule.dimension: None
        if sums[rule.dimension] is None
        else contribution_milli(engine, rule, sums[rule.dimension] or 0)
        for rule in engine.rules
    }
    return Computation(score=score_of(engine, milli.values()), sums=dict(sums), milli=milli)
