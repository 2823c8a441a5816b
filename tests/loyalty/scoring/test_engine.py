"""Properties of the score engine, and the worked example of docs/scoring.md."""

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from loyalty.members.models import Dimension
from loyalty.scoring.engine import (
    ENGINE,
    FULL_WEIGHT_PER_HALF_LIFE_DAY,
    HORIZON_HALF_LIVES,
    EventFact,
    compute,
    epoch_day,
    event_weight,
    round_half_away,
)
from loyalty.scoring.models import SCORE_MAX, SCORE_MIN

ASOF = epoch_day(datetime(2026, 11, 27, tzinfo=UTC))
LONGEST_HALF_LIFE = max(rule.half_life_days for rule in ENGINE.rules)

dimensions = st.sampled_from(Dimension.values)
impacts = st.integers(-100, 100).filter(bool)


def facts(impact: st.SearchStrategy[int] = impacts) -> st.SearchStrategy[EventFact]:
    return st.builds(EventFact, dimensions, impact, st.integers(ASOF - 3 * 365, ASOF))


histories = st.lists(facts(), max_size=60)
shared = st.sets(dimensions)


@given(histories, shared, st.integers(ASOF, ASOF + 20 * 365))
def test_a_score_is_always_within_350_and_950(events, consented, asof):
    assert SCORE_MIN <= compute(events, consented, asof).score <= SCORE_MAX


@given(histories, shared, st.randoms(use_true_random=False))
def test_the_same_data_gives_the_same_score_in_any_order(events, consented, rng):
    shuffled = list(events)
    rng.shuffle(shuffled)

    assert compute(events, consented, ASOF) == compute(shuffled, sorted(consented), ASOF)


@given(histories, shared, facts(st.integers(1, 100)))
def test_a_positive_event_never_lowers_the_score(events, consented, positive):
    assert compute([*events, positive], consented, ASOF).score >= compute(events, consented, ASOF).score


@given(histories, shared, facts(st.integers(-100, -1)))
def test_a_negative_event_never_raises_the_score(events, consented, negative):
    assert compute([*events, negative], consented, ASOF).score <= compute(events, consented, ASOF).score


@given(histories, shared, dimensions)
def test_withdrawing_consent_is_as_if_that_dimensions_events_never_existed(events, consented, withdrawn):
    without_consent = compute(events, consented - {withdrawn}, ASOF)
    without_events = compute([e for e in events if e.dimension != withdrawn], consented | {withdrawn}, ASOF)

    assert without_consent.score == without_events.score
    assert without_consent.sums[withdrawn] is None


@given(
    st.lists(facts(st.integers(1, 100)), min_size=1, max_size=30)
    | st.lists(facts(st.integers(-100, -1)), min_size=1, max_size=30),
    st.integers(0, 4000),
    st.integers(0, 4000),
)
def test_decay_moves_old_impacts_toward_the_baseline(events, later, further):
    everything = set(Dimension.values)
    distances = [
        abs(compute(events, everything, ASOF + days).score - ENGINE.baseline)
        for days in (later, later + further)
    ]

    assert distances[1] <= distances[0]


@given(histories)
def test_after_the_horizon_every_impact_is_gone(events):
    horizon = HORIZON_HALF_LIVES * LONGEST_HALF_LIFE

    assert compute(events, set(Dimension.values), ASOF + horizon).score == ENGINE.baseline


@given(st.integers(1, 2000), st.integers(0, 30000), st.integers(0, 3000))
def test_an_events_weight_halves_each_half_life_and_never_grows_with_age(half_life, age, more):
    full = FULL_WEIGHT_PER_HALF_LIFE_DAY * half_life

    assert event_weight(0, half_life) == full
    assert event_weight(half_life, half_life) == full // 2
    assert event_weight(age + more, half_life) <= event_weight(age, half_life)


@given(st.integers(-(10**12), 10**12), st.integers(1, 10**9))
def test_rounding_is_half_away_from_zero(numerator, denominator):
    exact = Decimal(numerator) / Decimal(denominator)
    expected = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    assert round_half_away(numerator, denominator) == expected


def test_no_shared_data_gives_the_baseline():
    assert compute([], set(), ASOF).score == ENGINE.baseline == 500


def test_the_worked_example_of_the_documentation():
    """docs/scoring.md, "A worked example": keep the two in step."""
    events = [
        EventFact(Dimension.PAYMENT_HISTORY, 10, ASOF - 10),
        EventFact(Dimension.PAYMENT_HISTORY, 10, ASOF - 40),
        EventFact(Dimension.PAYMENT_HISTORY, 10, ASOF - 70),
        EventFact(Dimension.PAYMENT_HISTORY, 10, ASOF - 100),
        EventFact(Dimension.PAYMENT_HISTORY, -40, ASOF - 200),
        EventFact(Dimension.FULFILMENT, 10, ASOF - 5),
        EventFact(Dimension.FULFILMENT, 10, ASOF - 400),
        EventFact(Dimension.IDENTITY, 25, ASOF - 300),
        EventFact(Dimension.ASSETS, 10, ASOF - 30),
    ]
    shared_dimensions = {Dimension.PAYMENT_HISTORY, Dimension.FULFILMENT, Dimension.IDENTITY}

    result = compute(events, shared_dimensions, ASOF)

    assert result.sums == {
        "payment_history": 11_878_400,
        "fulfilment": 21_964_800,
        "tenure": None,
        "identity": 96_768_000,
        "assets": None,
    }
    assert result.milli == {
        "payment_history": 10_428,
        "fulfilment": 20_660,
        "tenure": None,
        "identity": 36_408,
        "assets": None,
    }
    assert result.score == 567
