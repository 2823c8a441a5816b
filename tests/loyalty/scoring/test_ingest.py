from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.scoring.errors import ScoreEventInvalid
from loyalty.scoring.models import PLATFORM_SOURCE, HoldStatus, RecomputeRequest, ScoreEvent, ScoreSnapshot
from loyalty.scoring.services import ScoreEventInput, score_events_record
from loyalty.scoring.sql import EVENT_FIELDS
from tests.factories import MERCHANT_REF, OTHER_MERCHANT_REF, HoldFactory, JoinedMemberFactory
from tests.support.races import errors_of, race

pytestmark = pytest.mark.django_db


def events_for(member, count, *, prefix="evt", kind="payment_on_time", **extra):
    now = timezone.now()
    return [
        ScoreEventInput(f"{prefix}-{n}", member.pk, kind, now - timedelta(minutes=n), **extra)
        for n in range(count)
    ]


def test_a_batch_is_stored_once_and_a_replay_is_counted_as_duplicates():
    member = JoinedMemberFactory.create()
    batch = events_for(member, 5)

    first = score_events_record(source=MERCHANT_REF, events=batch)
    again = score_events_record(
        source=MERCHANT_REF, events=[*batch[:3], *events_for(member, 2, prefix="new")]
    )

    assert (first.accepted, first.duplicates) == (5, 0)
    assert (again.accepted, again.duplicates) == (2, 3)
    assert ScoreEvent.objects.count() == 7


def test_the_same_id_twice_in_one_batch_is_stored_once():
    member = JoinedMemberFactory.create()
    event = events_for(member, 1)[0]

    result = score_events_record(source=MERCHANT_REF, events=[event, event])

    assert (result.accepted, result.duplicates) == (1, 1)


def test_ids_are_unique_per_source_not_across_sources():
    member = JoinedMemberFactory.create()
    batch = events_for(member, 3)

    score_events_record(source=MERCHANT_REF, events=batch)
    other = score_events_record(source=OTHER_MERCHANT_REF, events=batch)

    assert other.accepted == 3


def test_an_event_copies_its_kinds_dimension_and_impact_and_its_day():
    member = JoinedMemberFactory.create()
    at = timezone.now() - timedelta(days=3)

    score_events_record(
        source=MERCHANT_REF,
        events=[ScoreEventInput("p1", member.pk, "purchase", at, amount=Decimal("12.50"), currency="CNY")],
    )

    event = ScoreEvent.objects.get()
    assert (event.dimension, event.impact, event.amount, event.currency) == (
        "tenure",
        2,
        Decimal("12.5"),
        "CNY",
    )
    assert event.occurred_day == (at.date() - at.date().replace(year=1970, month=1, day=1)).days


def test_accepted_events_queue_their_members_for_recomputation_and_duplicates_do_not():
    member, other = JoinedMemberFactory.create(), JoinedMemberFactory.create()
    RecomputeRequest.objects.all().delete()
    score_events_record(source=MERCHANT_REF, events=events_for(member, 2))

    score_events_record(
        source=MERCHANT_REF, events=[*events_for(member, 2), *events_for(other, 1, prefix="o")]
    )

    assert sorted(RecomputeRequest.objects.values_list("member_id", flat=True)) == sorted(
        [member.pk, other.pk]
    )


def test_a_thousand_events_take_as_many_queries_as_ten():
    members = [JoinedMemberFactory.create() for _ in range(20)]

    def queries_for(count, prefix):
        batch = [
            ScoreEventInput(f"{prefix}-{n}", members[n % 20].pk, "purchase", timezone.now())
            for n in range(count)
        ]
        with CaptureQueriesContext(connection) as captured:
            score_events_record(source=MERCHANT_REF, events=batch)
        return [q["sql"] for q in captured.captured_queries]

    small, large = queries_for(10, "small"), queries_for(1000, "large")

    def inserts(queries, table):
        return [sql for sql in queries if sql.startswith(f'INSERT INTO "{table}"')]

    def others(queries):
        return (
            len(queries)
            - len(inserts(queries, "scoring_scoreevent"))
            - len(inserts(queries, "scoring_eventkey"))
        )

    # PostgreSQL stores the batch (and claims its keys) in one statement each; SQLite takes
    # at most 999 parameters a statement.
    per_statement = 999 // len(EVENT_FIELDS)
    postgres = connection.vendor == "postgresql"
    assert len(inserts(large, "scoring_scoreevent")) == (1 if postgres else -(-1000 // per_statement))
    assert len(inserts(large, "scoring_eventkey")) == (1 if postgres else -(-1000 // (999 // 2)))
    assert others(large) == others(small)
    assert ScoreEvent.objects.count() == 1010


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"kind": "astrology"}, "events[0].type"),
        ({"kind": "identity_verified"}, "events[0].type"),  # the platform's, not a partner's
        ({"external_id": ""}, "events[0].id"),
        ({"occurred_at": timezone.now().replace(tzinfo=None)}, "events[0].occurred_at"),
        ({"occurred_at": timezone.now() + timedelta(hours=1)}, "events[0].occurred_at"),
        ({"occurred_at": timezone.now() - timedelta(days=3700)}, "events[0].occurred_at"),
        ({"amount": Decimal("10.00")}, "events[0].amount"),
        ({"currency": "EUR"}, "events[0].amount"),
        ({"amount": Decimal("-1"), "currency": "EUR"}, "events[0].amount"),
        ({"amount": Decimal("1.00001"), "currency": "EUR"}, "events[0].amount"),
        ({"amount": Decimal("1"), "currency": "euro"}, "events[0].currency"),
        ({"member_id": 10**12}, "events[0].member"),
    ],
)
def test_an_unacceptable_event_refuses_the_batch_and_names_the_field(change, param):
    member = JoinedMemberFactory.create()
    fields = {
        "external_id": "e1",
        "member_id": member.pk,
        "kind": "payment_on_time",
        "occurred_at": timezone.now(),
    }

    with pytest.raises(ScoreEventInvalid) as refused:
        score_events_record(source=MERCHANT_REF, events=[ScoreEventInput(**{**fields, **change})])

    assert refused.value.param == param
    assert not ScoreEvent.objects.exists()


def test_the_platform_may_record_its_own_kinds_and_a_source_must_be_a_merchant_or_the_platform():
    member = JoinedMemberFactory.create()

    score_events_record(source=PLATFORM_SOURCE, events=events_for(member, 1, kind="identity_verified"))
    with pytest.raises(ScoreEventInvalid) as refused:
        score_events_record(source="acme", events=events_for(member, 1))

    assert refused.value.param == "source"


def test_more_than_a_thousand_events_is_refused():
    member = JoinedMemberFactory.create()

    with pytest.raises(ScoreEventInvalid) as refused:
        score_events_record(source=MERCHANT_REF, events=events_for(member, 1001))

    assert refused.value.param == "events"


def test_a_settlement_lifts_that_merchants_hold_on_that_obligation_only():
    hold = HoldFactory.create(obligation_ref="INV-88")
    same_ref_elsewhere = HoldFactory.create(
        member=hold.member, merchant_ref=OTHER_MERCHANT_REF, obligation_ref="INV-88"
    )
    other_obligation = HoldFactory.create(member=hold.member, obligation_ref="INV-99")
    settlement = [ScoreEventInput("INV-88", hold.member_id, "obligation_settled", timezone.now())]

    result = score_events_record(source=MERCHANT_REF, events=settlement)
    replay = score_events_record(source=MERCHANT_REF, events=settlement)

    assert (result.holds_lifted, replay.holds_lifted) == (1, 0)
    hold.refresh_from_db()
    assert (hold.status, hold.lifted_how) == (HoldStatus.LIFTED, "obligation_settled")
    assert hold.audit.filter(action="lifted").count() == 1
    for untouched in (same_ref_elsewhere, other_obligation):
        untouched.refresh_from_db()
        assert untouched.status == HoldStatus.ACTIVE


def test_a_settlement_for_another_member_lifts_nothing():
    hold = HoldFactory.create(obligation_ref="INV-88")
    stranger = JoinedMemberFactory.create()

    result = score_events_record(
        source=MERCHANT_REF,
        events=[ScoreEventInput("INV-88", stranger.pk, "obligation_settled", timezone.now())],
    )

    assert result.holds_lifted == 0
    hold.refresh_from_db()
    assert hold.status == HoldStatus.ACTIVE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_batches_store_each_event_once():
    members = [JoinedMemberFactory.create() for _ in range(5)]
    shared = [
        ScoreEventInput(f"shared-{n}", members[n % 5].pk, "purchase", timezone.now()) for n in range(300)
    ]

    def record(index):
        # Each contender sends the shared events in another order, plus some of its own.
        own = [
            ScoreEventInput(f"own-{index}-{n}", members[0].pk, "purchase", timezone.now()) for n in range(20)
        ]
        batch = shared[index * 37 :] + shared[: index * 37] + own
        return score_events_record(source=MERCHANT_REF, events=batch)

    outcomes = race(record, threads=6)

    assert errors_of(outcomes) == []
    assert sum(o.value.accepted for o in outcomes) == 300 + 6 * 20
    assert sum(o.value.duplicates for o in outcomes) == 5 * 300
    assert ScoreEvent.objects.count() == 300 + 6 * 20
    assert ScoreEvent.objects.values("source", "external_id").distinct().count() == 300 + 6 * 20


@pytest.mark.postgres
def test_recorded_events_and_snapshots_cannot_be_rewritten_or_deleted():
    member = JoinedMemberFactory.create()
    score_events_record(source=MERCHANT_REF, events=events_for(member, 1))

    for rows, change in (
        (ScoreEvent.objects.all(), {"impact": 50}),
        (ScoreSnapshot.objects.all(), {"score": 900}),
    ):
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            rows.update(**change)
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            rows.delete()
