"""Each statement of loyalty/scoring/sql.py gives the answer of the ORM or Python code it
replaces, on the same data, on SQLite and on PostgreSQL."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction

from loyalty.scoring import bulk, sql
from loyalty.scoring.bands import Bands
from loyalty.scoring.engine import ENGINE
from loyalty.scoring.models import (
    Dispute,
    DisputeStatus,
    EventKind,
    Hold,
    HoldCategory,
    HoldEnd,
    HoldStatus,
    ScoreEvent,
)
from loyalty.scoring.selectors import hold_recent_exists, holds_suspending
from loyalty.scoring.services import (
    ScoreEventInput,
    dispute_confirm,
    dispute_decide,
    dispute_open,
    disputes_lapse,
    score_events_record,
    score_recompute,
)
from loyalty.scoring.services.ingest import _insert_new_one_by_one, _row
from tests.factories import MERCHANT_REF, OTHER_MERCHANT_REF, HoldFactory, JoinedMemberFactory, UserFactory
from tests.loyalty.scoring.test_bulk import NOW, build_members, outcome, restore, standings_state
from tests.support.sql import executed, ran

pytestmark = pytest.mark.django_db
START = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
ON_POSTGRES = connection.vendor == "postgresql"


# HOLD_HELD_UNTIL, against holds_suspending: one hold a member, in every shape the
# recent-hold rule tells apart.


def _ended(days_ago: int, how: str) -> dict[str, object]:
    status = HoldStatus.EXPIRED if how == HoldEnd.EXPIRY else HoldStatus.LIFTED
    return {"status": status, "lifted_at": START - timedelta(days=days_ago), "lifted_how": how}


HOLD_SHAPES: list[dict[str, object]] = [
    {},
    {"category": HoldCategory.ALL},
    {"category": HoldCategory.DISCOUNT},
    {"merchant_ref": OTHER_MERCHANT_REF},
    {"placed_at": START - timedelta(days=60), "expires_at": START - timedelta(days=5)},  # lapsed, unswept
    {"placed_at": START - timedelta(days=60), "expires_at": START - timedelta(days=40)},
    {"placed_at": START + timedelta(hours=1), "expires_at": START + timedelta(days=2)},  # not placed yet
    *(_ended(days, how) for days in (5, 40) for how in HoldEnd.values),
]


def test_the_written_out_recent_hold_rule_answers_as_the_holds_queryset():
    members = []
    with time_machine.travel(START, tick=False):
        for shape in HOLD_SHAPES:
            hold = HoldFactory.create()
            if shape:
                Hold.objects.filter(pk=hold.pk).update(**shape)
            members.append(hold.member)

        with executed() as texts:
            for member in members:
                for merchant_ref in (MERCHANT_REF, OTHER_MERCHANT_REF):
                    for category in (HoldCategory.DEPOSIT_WAIVER, HoldCategory.FX_MARGIN):
                        for days in (0, 10, 30, 90):
                            expected = (
                                holds_suspending(
                                    merchant_ref=merchant_ref, category=category, hold_free_days=days
                                )
                                .filter(member=member)
                                .exists()
                            )
                            asked: dict[str, Any] = {
                                "member": member,
                                "merchant_ref": merchant_ref,
                                "category": category,
                                "days": days,
                            }
                            assert hold_recent_exists(**asked) is expected, (
                                Hold.objects.get(member=member),
                                asked,
                            )

    assert ran(sql.HOLD_HELD_UNTIL, texts)


# EVENTS_INSERT_NEW, against _insert_new_one_by_one (get_or_create a row at a time).


def _stored_events() -> list[tuple[Any, ...]]:
    columns = [field.attname for field in ScoreEvent._meta.concrete_fields if not field.primary_key]
    return list(ScoreEvent.objects.order_by("source", "external_id").values_list(*columns))


def test_storing_new_events_writes_and_names_the_rows_the_orm_would():
    members = [JoinedMemberFactory.create() for _ in range(3)]
    now = datetime.now(UTC)
    kinds = list(EventKind.objects.filter(partner_reportable=True).order_by("code"))
    events = [
        ScoreEventInput(f"evt-{n:03}", members[n % 3].pk, kinds[n % len(kinds)].code, now - timedelta(days=n))
        for n in range(200)
    ]
    # Stored before: some of the batch, and the same ids from another source.
    score_events_record(source=MERCHANT_REF, events=events[:60:3])
    score_events_record(source=OTHER_MERCHANT_REF, events=events[:10])
    by_code = {kind.code: kind for kind in kinds}
    batch = [*events, *events[100:110]]  # ten repeated within the batch too
    rows = sorted(
        (_row(MERCHANT_REF, event, by_code[event.kind], now) for event in batch),
        key=lambda row: (row["source"], row["external_id"]),
    )

    answers = []
    for insert_new in (sql.events_insert_new, _insert_new_one_by_one):
        with transaction.atomic(), executed() as texts:
            answers.append((sorted(insert_new(rows)), _stored_events()))
            transaction.set_rollback(True)
        if insert_new is sql.events_insert_new:
            assert ran(sql.EVENTS_INSERT_NEW, texts)
    (statement_new, statement_rows), (orm_new, orm_rows) = answers

    assert statement_new == orm_new
    assert len(statement_new) == 200 - 20
    assert statement_rows == orm_rows


# The nightly recomputation, every statement of it (DECAYED_SUMS, RECOMPUTE_CHANGES,
# RUN_RANGE, then APPLY_RANGE on PostgreSQL, APPLY_SNAPSHOTS, APPLY_TIER_CHANGES and
# APPLY_STANDINGS elsewhere), against score_recompute member by member.


@pytest.fixture
def _at_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.usefixtures("_at_now")
@pytest.mark.parametrize(("seed", "days_later"), [(1, 0), (2, 0), (3, 800)])
def test_the_bulk_path_and_the_python_path_agree_exactly(seed, days_later):
    member_ids = build_members(seed, 40)
    before = standings_state(member_ids)
    at = NOW + timedelta(days=days_later)

    score_recompute(member_ids=member_ids, now=at)
    python_path = outcome(member_ids)
    restore(before)
    with executed() as texts:
        bulk.recompute_all(now=at, chunk_size=7, workers=1)
    bulk_path = outcome(member_ids)

    assert bulk_path == python_path
    assert len({values[0] for values in python_path.values()}) > 10, "the data should give varied scores"
    assert any(sql.changes_sql(ENGINE, Bands.load()) in text for text in texts)
    applied = (
        [sql.APPLY_RANGE]
        if ON_POSTGRES
        else [sql.APPLY_SNAPSHOTS, sql.APPLY_TIER_CHANGES, sql.APPLY_STANDINGS]
    )
    for statement in [sql.DECAYED_SUMS, sql.RECOMPUTE_CHANGES, sql.RUN_RANGE, *applied]:
        assert ran(statement, texts), statement.sql


def _contest(member_ids: list[int], operator: Any) -> dict[str, int]:
    """Merchant events for the members, some past a cap, and a dispute of every status."""
    statuses: dict[str, int] = {}
    at = NOW - timedelta(days=3)
    for index, member_id in enumerate(member_ids):
        kinds = ["payment_missed"] * 6 + ["booking_no_show"] * 4 + ["payment_on_time"] * 2
        score_events_record(
            source=MERCHANT_REF,
            events=[
                ScoreEventInput(f"c-{member_id}-{n}", member_id, kind, at) for n, kind in enumerate(kinds)
            ],
        )
        counting = ScoreEvent.objects.filter(member_id=member_id, source=MERCHANT_REF, cap="").order_by("pk")
        event = counting.first()
        assert event is not None
        member = event.member
        dispute = dispute_open(member=member, event_id=event.pk, reason="This never happened, I was away.")
        outcome = ["open", "confirmed", "upheld", "overturned", "lapsed"][index % 5]
        if outcome in ("confirmed", "upheld"):
            dispute_confirm(merchant_ref=MERCHANT_REF, external_id=event.external_id, evidence="Our ledger.")
        if outcome in ("upheld", "overturned"):
            dispute_decide(dispute=dispute, operator=operator, upheld=outcome == "upheld", note="Checked.")
        if outcome == "lapsed":
            Dispute.objects.filter(pk=dispute.pk).update(due_at=NOW - timedelta(days=1))
            disputes_lapse(now=NOW)
        statuses[outcome] = statuses.get(outcome, 0) + 1
    return statuses


@pytest.mark.usefixtures("_at_now")
def test_the_bulk_path_and_the_python_path_agree_with_capped_and_disputed_events():
    member_ids = build_members(8, 30)
    operator = UserFactory.create(is_staff=True, is_superuser=True)
    statuses = _contest(member_ids[:20], operator)
    assert set(statuses) == set(DisputeStatus.values)
    assert ScoreEvent.objects.filter(member_id__in=member_ids).exclude(cap="").count() > 20
    before = standings_state(member_ids)

    score_recompute(member_ids=member_ids, now=NOW)
    python_path = outcome(member_ids)
    restore(before)
    with executed() as texts:
        bulk.recompute_all(now=NOW, chunk_size=7, workers=1)

    assert outcome(member_ids) == python_path
    assert ran(sql.DECAYED_SUMS, texts)
    # What the Python path counts: no capped event, no event whose dispute keeps it out.
    counted = {
        pk
        for pk, cap, status in ScoreEvent.objects.filter(member_id__in=member_ids).values_list(
            "pk", "cap", "dispute__status"
        )
        if not cap and status in (None, DisputeStatus.UPHELD)
    }
    assert 0 < len(counted) < ScoreEvent.objects.filter(member_id__in=member_ids).count()
