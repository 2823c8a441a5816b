"""One merchant's bounded influence on a member's score: which of its new events count.

A pure function of the member's events, like `engine.py`; `services/ingest.py` reads the
events and stamps the answer on the new rows when it records them, and nothing ever
changes it (docs/scoring.md, "Caps"):

- `daily_negatives`: of one merchant's negative events about a member, at most
  `DAILY_NEGATIVES` a UTC day (the day each happened) count;
- `score_floor`: the events the merchant reported in the last `WINDOW_DAYS` never take the
  score more than `FLOOR_POINTS` below the score without them.

The floor is checked so that it stays true after the event is recorded, not only at that
moment. Decay can widen the gap later (the other events may leave a saturated range, and
an older event loses more of its weight in a day than a newer one), so the gap is checked
on every day the new event stays in the window, as decay will have made it. Consent can
change at any time, so every dimension counts as shared and a dimension where the
merchant's events raise the score never offsets one where they lower it. An event under
an open dispute may count again, so the merchant's disputed negative events count here.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from loyalty.scoring.engine import ENGINE, MILLI, Engine, contribution_milli, event_weight
from loyalty.scoring.models import EventCap

DAILY_NEGATIVES = 3
FLOOR_POINTS = 60
WINDOW_DAYS = 30


@dataclass(frozen=True)
class KnownEvent:
    """An event of the member already recorded that counts, or may count again."""

    dimension: str
    impact: int
    occurred_day: int
    recorded_day: int
    of_merchant: bool  # reported by the merchant whose new events are being decided
    counts_now: bool = True  # False: under an open dispute, which may end with it counting


@dataclass(frozen=True)
class NewEvent:
    dimension: str
    impact: int
    occurred_day: int


def in_window(recorded_day: int, day: int) -> bool:
    """Whether an event recorded on `recorded_day` is among the last WINDOW_DAYS' on `day`."""
    return day - WINDOW_DAYS < recorded_day <= day


def caps_decide(
    *,
    known: Iterable[KnownEvent],
    negatives_by_day: dict[int, int],
    new: Sequence[NewEvent],
    today: int,
    engine: Engine = ENGINE,
) -> list[str]:
    """The cap of each new event of one merchant about one member ("" when it counts), in
    the order given; `negatives_by_day` counts the merchant's negative events already
    counting, by the day they happened. Recorded today, each new event is in the window
    until today + WINDOW_DAYS - 1: those are the days checked."""
    days = range(today, today + WINDOW_DAYS)
    half_lives = {rule.dimension: rule.half_life_days for rule in engine.rules}
    rest = {day: dict.fromkeys(half_lives, 0) for day in days}  # what counts either way
    window = {day: dict.fromkeys(half_lives, 0) for day in days}  # the merchant's recent events

    def count_in(sums: dict[int, dict[str, int]], event: KnownEvent | NewEvent) -> None:
        for day in days:
            sums[day][event.dimension] += _decayed(event, day, half_lives)

    for known_event in _merged(known):
        for day in days:
            if known_event.of_merchant and in_window(known_event.recorded_day, day):
                window[day][known_event.dimension] += _decayed(known_event, day, half_lives)
            elif known_event.counts_now:
                rest[day][known_event.dimension] += _decayed(known_event, day, half_lives)
    # The merchant's new events that raise the score count whatever happens.
    for event in new:
        if event.impact > 0:
            count_in(window, event)

    counted = defaultdict(int, negatives_by_day)
    caps: list[str] = []
    for event in new:
        cap = ""
        if event.impact < 0:
            if counted[event.occurred_day] >= DAILY_NEGATIVES:
                cap = EventCap.DAILY_NEGATIVES
            elif any(
                _gap_milli(engine, rest[day], window[day], event.dimension, _decayed(event, day, half_lives))
                > FLOOR_POINTS * MILLI
                for day in days
            ):
                cap = EventCap.SCORE_FLOOR
            else:
                counted[event.occurred_day] += 1
                count_in(window, event)
        caps.append(cap)
    return caps


def _decayed(event: KnownEvent | NewEvent, day: int, half_lives: dict[str, int]) -> int:
    """The event's impact times its weight on `day` (engine.compute's term; 0 before it happened)."""
    if event.occurred_day > day:
        return 0
    return event.impact * event_weight(day - event.occurred_day, half_lives[event.dimension])


def _gap_milli(
    engine: Engine, rest: dict[str, int], window: dict[str, int], dimension: str, extra: int
) -> int:
    """How far the merchant's recent events, with `extra` more in `dimension`, lower the score,
    in thousandths of a point: the dimensions they lower, each as if shared (what they raise
    in another dimension offsets nothing, since the member may stop sharing it)."""
    gap = 0
    for rule in engine.rules:
        recent = window[rule.dimension] + (extra if rule.dimension == dimension else 0)
        without = contribution_milli(engine, rule, rest[rule.dimension])
        gap += max(0, without - contribution_milli(engine, rule, rest[rule.dimension] + recent))
    return gap


def _merged(known: Iterable[KnownEvent]) -> list[KnownEvent]:
    """Events alike but for their impact, as one: decay weighs them the same on every day."""
    impacts: dict[tuple[str, int, int, bool, bool], int] = defaultdict(int)
    for event in known:
        recorded = event.recorded_day if event.of_merchant else 0
        key = (event.dimension, event.occurred_day, recorded, event.of_merchant, event.counts_now)
        impacts[key] += event.impact
    return [
        KnownEvent(dimension, impact, occurred, recorded, of_merchant, counts_now)
        for (dimension, occurred, recorded, of_merchant, counts_now), impact in impacts.items()
        if impact
    ]
