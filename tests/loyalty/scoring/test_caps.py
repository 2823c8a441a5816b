"""Invariant 9: one merchant's influence on a member's score is bounded. At most three of its
negative events a member and day count, and its events reported in the last 30 days never
take the score more than 60 points below the score without them, on any day, however the
events decay. Events past a cap are stored with it, shown, and never counted."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.db.models import Q
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.members.models import ConsentSource, Dimension, Member
from loyalty.members.services import consent_set
from loyalty.scoring.caps import DAILY_NEGATIVES, FLOOR_POINTS, WINDOW_DAYS, in_window
from loyalty.scoring.engine import EventFact, compute, epoch_day
from loyalty.scoring.models import (
    DISPUTE_NOT_COUNTING_STATUSES,
    EventCap,
    MemberStanding,
    ScoreEvent,
)
from loyalty.scoring.services import ScoreEventInput, score_events_record, score_recompute
from loyalty.scoring.services.recompute import _shared
from tests.factories import MERCHANT_REF, OTHER_MERCHANT_REF, JoinedMemberFactory
from tests.support.races import errors_of, race

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PARTNER_KINDS = [
    "payment_on_time",
    "payment_missed",
    "rental_returned_on_time",
    "rental_returned_late",
    "booking_no_show",
    "purchase",
]


def member_sharing(*dimensions: str) -> Member:
    member = JoinedMemberFactory.create()
    for dimension in dimensions:
        consent_set(member=member, dimension=dimension, granted=True, source=ConsentSource.SEED)
    return member


def report(
    member: Member, source: str, kind: str, times: int, *, ago: timedelta = timedelta(0), tag: str = ""
):
    occurred = datetime.now(UTC) - ago
    events = [
        ScoreEventInput(f"{tag}{kind}-{occurred:%Y%m%d%H%M}-{n}", member.pk, kind, occurred)
        for n in range(times)
    ]
    return score_events_record(source=source, events=events)


def score_now(member: Member) -> int:
    score_recompute(member_ids=[member.pk])
    return MemberStanding.objects.get(member=member).score


def gaps(member: Member, merchant_ref: str, days: range, *, as_if_counted: tuple[int, ...] = ()) -> list[int]:
    """Per day, how far below the score without `merchant_ref`'s events reported in the 30
    days up to that day the member's score is, from what counts and was reported by then
    (and the events `as_if_counted`, by id): what the floor rule bounds."""
    counting = ScoreEvent.objects.filter(
        Q(cap="") & ~Q(dispute__status__in=DISPUTE_NOT_COUNTING_STATUSES) | Q(pk__in=as_if_counted),
        member=member,
    )
    rows = [
        (source, EventFact(dimension, impact, occurred_day), epoch_day(recorded_at))
        for source, dimension, impact, occurred_day, recorded_at in counting.values_list(
            "source", "dimension", "impact", "occurred_day", "recorded_at"
        )
    ]
    shared = _shared(MemberStanding.objects.get(member=member).shared_dimensions)
    result = []
    for day in days:
        known = [(source, fact, recorded) for source, fact, recorded in rows if recorded <= day]
        every = [fact for _, fact, _ in known]
        without = [
            fact
            for source, fact, recorded in known
            if not (source == merchant_ref and in_window(recorded, day))
        ]
        result.append(compute(without, shared, day).score - compute(every, shared, day).score)
    return result


def worst_gap(member: Member, merchant_ref: str, first_day: int, last_day: int, **options) -> int:
    return max(gaps(member, merchant_ref, range(first_day, last_day + 1), **options))


@pytest.fixture(autouse=True)
def _at_start():
    with time_machine.travel(START, tick=False):
        yield


def test_twenty_missed_payments_in_a_day_three_count_and_the_rest_are_capped():
    member = member_sharing(*Dimension.values)
    report(member, OTHER_MERCHANT_REF, "rental_returned_on_time", 4, ago=timedelta(days=90))
    before = score_now(member)

    recorded = report(member, MERCHANT_REF, "payment_missed", 20)

    events = ScoreEvent.objects.filter(member=member, source=MERCHANT_REF)
    assert (recorded.accepted, recorded.capped) == (20, 17)
    assert events.filter(cap="").count() == DAILY_NEGATIVES == 3
    assert events.filter(cap=EventCap.DAILY_NEGATIVES).count() == 17
    after = score_now(member)
    assert 0 < before - after <= FLOOR_POINTS
    assert worst_gap(member, MERCHANT_REF, epoch_day(START), epoch_day(START) + WINDOW_DAYS) <= FLOOR_POINTS


def test_a_good_payer_loses_at_most_sixty_points_to_one_merchant():
    """The attack of issue 15: a score in the 600s, sunk by ten negative reports."""
    member = member_sharing(*Dimension.values)
    report(member, OTHER_MERCHANT_REF, "payment_on_time", 12, ago=timedelta(days=60))
    report(member, OTHER_MERCHANT_REF, "rental_returned_on_time", 8, ago=timedelta(days=120))
    report(member, OTHER_MERCHANT_REF, "purchase", 20, ago=timedelta(days=30))
    before = score_now(member)
    assert before >= 600

    report(member, MERCHANT_REF, "payment_missed", 5)
    report(member, MERCHANT_REF, "booking_no_show", 5)

    capped = ScoreEvent.objects.filter(member=member, source=MERCHANT_REF).exclude(cap="")
    assert capped.filter(cap=EventCap.SCORE_FLOOR).exists()
    assert before - score_now(member) <= FLOOR_POINTS
    assert worst_gap(member, MERCHANT_REF, epoch_day(START), epoch_day(START) + WINDOW_DAYS) <= FLOOR_POINTS


def test_the_floor_holds_on_the_days_after_as_the_events_decay():
    """Old positive history above saturation decays faster than new negative events: a gap
    of 60 on the day the events arrive would widen past 60 within the month, so the floor is
    checked on every day the events stay in the window."""
    member = member_sharing(Dimension.PAYMENT_HISTORY)
    report(member, OTHER_MERCHANT_REF, "payment_on_time", 33, ago=timedelta(days=300))

    report(member, MERCHANT_REF, "payment_missed", 3)

    events = ScoreEvent.objects.filter(member=member, source=MERCHANT_REF)
    assert list(events.order_by("external_id").values_list("cap", flat=True)) == [
        "",
        "",
        EventCap.SCORE_FLOOR,
    ]
    today = epoch_day(START)
    assert worst_gap(member, MERCHANT_REF, today, today + WINDOW_DAYS) <= FLOOR_POINTS
    # Had the third counted, the gap would have been within the floor that day only.
    third = (events.get(cap=EventCap.SCORE_FLOOR).pk,)
    [on_the_day] = gaps(member, MERCHANT_REF, range(today, today + 1), as_if_counted=third)
    assert (
        on_the_day
        <= FLOOR_POINTS
        < worst_gap(member, MERCHANT_REF, today, today + WINDOW_DAYS, as_if_counted=third)
    )


def test_caps_are_per_merchant_and_per_day():
    member = member_sharing(*Dimension.values)

    report(member, MERCHANT_REF, "booking_no_show", 4, tag="a")
    report(member, OTHER_MERCHANT_REF, "booking_no_show", 4, tag="b")
    report(member, MERCHANT_REF, "booking_no_show", 4, ago=timedelta(days=1), tag="c")

    counted = ScoreEvent.objects.filter(member=member, cap="")
    assert counted.filter(source=MERCHANT_REF).count() == 6
    assert counted.filter(source=OTHER_MERCHANT_REF).count() == 3


def test_positive_events_and_the_platforms_are_never_capped():
    member = member_sharing(*Dimension.values)

    report(member, MERCHANT_REF, "payment_on_time", 30)
    report(member, "platform", "email_verified", 1)

    assert not ScoreEvent.objects.filter(member=member).exclude(cap="").exists()


def test_a_repeated_event_keeps_the_cap_it_was_stored_with():
    member = member_sharing(*Dimension.values)
    report(member, MERCHANT_REF, "payment_missed", 5)

    again = report(member, MERCHANT_REF, "payment_missed", 5)

    assert (again.accepted, again.duplicates, again.capped) == (0, 5, 0)
    assert ScoreEvent.objects.filter(member=member).exclude(cap="").count() == 2


KIND = st.sampled_from(PARTNER_KINDS)


@st.composite
def histories(draw):
    shared = draw(st.sets(st.sampled_from(Dimension.values), min_size=1))
    others = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["payment_on_time", "rental_returned_on_time", "purchase"]),
                st.integers(1, 30),
                st.integers(0, 700),
            ),
            max_size=4,
        )
    )
    steps = draw(
        st.lists(
            st.tuples(
                st.integers(0, 12), st.lists(st.tuples(KIND, st.integers(0, 40)), min_size=1, max_size=8)
            ),
            min_size=1,
            max_size=8,
        )
    )
    return shared, others, steps


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories())
def test_a_merchant_reporting_over_days_never_takes_more_than_sixty_points(history):
    shared, others, steps = history
    with transaction.atomic():
        member = member_sharing(*sorted(shared))
        for number, (kind, times, days_ago) in enumerate(others):
            report(member, OTHER_MERCHANT_REF, kind, times, ago=timedelta(days=days_ago), tag=f"o{number}-")
        moment = START
        for number, (days_later, batch) in enumerate(steps):
            moment += timedelta(days=days_later)
            with time_machine.travel(moment, tick=False):
                events = [
                    ScoreEventInput(f"s{number}-{index}", member.pk, kind, moment - timedelta(days=days_ago))
                    for index, (kind, days_ago) in enumerate(batch)
                ]
                score_events_record(source=MERCHANT_REF, events=events)
        # Every day from the first report until the last one leaves the window.
        assert (
            worst_gap(member, MERCHANT_REF, epoch_day(START), epoch_day(moment) + WINDOW_DAYS) <= FLOOR_POINTS
        )
        transaction.set_rollback(True)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batches_about_one_member_racing_count_no_more_than_the_caps_allow():
    member = member_sharing(*Dimension.values)
    other = member_sharing(*Dimension.values)

    def record(index: int):
        events = [
            ScoreEventInput(f"race-{index}-{n}-{member_id}", member_id, "booking_no_show", START)
            for n in range(2)
            for member_id in (other.pk, member.pk)
        ]
        return score_events_record(source=MERCHANT_REF, events=events)

    outcomes = race(record, threads=8)

    assert errors_of(outcomes) == []
    for someone in (member, other):
        events = ScoreEvent.objects.filter(member=someone)
        assert events.count() == 16
        assert events.filter(cap="").count() == DAILY_NEGATIVES
