"""POST /events: linked members' events into scoring, purchases into points, once per id;
an event about anyone else is refused. GET /events/{id} and POST /events/{id}/confirmation:
where one of the merchant's events stands, and standing by one its member disputed."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.members.models import ConsentSource, Dimension, Member
from loyalty.members.services import consent_set, link_end
from loyalty.points.selectors import points_balance
from loyalty.scoring.caps import FLOOR_POINTS
from loyalty.scoring.models import MemberStanding, ScoreEvent
from loyalty.scoring.services import (
    ScoreEventInput,
    dispute_decide,
    dispute_open,
    score_events_record,
    score_recompute_pending,
)
from surfaces.api.serializers import BATCH_MAX
from tests.factories import EarnRuleFactory, HoldFactory, JoinedMemberFactory, MerchantFactory, UserFactory
from tests.support.links import linked
from tests.surfaces.api.conftest import assert_error

pytestmark = pytest.mark.django_db
NOBODY = "mem_" + "0" * 20
EVENT_FIELDS = {"id", "member", "type", "occurred_at", "status", "dispute"}


@pytest.fixture
def member(partner):
    member = JoinedMemberFactory.create()
    linked(member, partner.merchant)
    return member


def _event(member, n=1, **changes):
    return {
        "id": f"evt-{n}",
        "member": member.ref,
        "type": "rental_returned_on_time",
        "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        **changes,
    }


def settle() -> None:
    while score_recompute_pending():
        pass


def score(member: Member) -> int:
    return MemberStanding.objects.get(member=member).score


def good_payer() -> Member:
    """A member with a score in the 600s from another merchant's reports: issue 15's victim."""
    member = JoinedMemberFactory.create()
    for dimension in Dimension.values:
        consent_set(member=member, dimension=dimension, granted=True, source=ConsentSource.SEED)
    regular = MerchantFactory.create()
    history = [("payment_on_time", 12, 60), ("rental_returned_on_time", 8, 120), ("purchase", 20, 30)]
    score_events_record(
        source=regular.ref,
        events=[
            ScoreEventInput(f"{kind}-{n}", member.pk, kind, timezone.now() - timedelta(days=days))
            for kind, times, days in history
            for n in range(times)
        ],
    )
    settle()
    assert score(member) >= 600
    return member


def test_events_are_recorded_for_the_merchant(partner, member):
    response = partner.post(
        "/events", {"events": [_event(member, 1), _event(member, 2, type="payment_on_time")]}
    )

    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicates": 0, "refused": []}
    stored = ScoreEvent.objects.filter(member=member).order_by("external_id")
    assert [(e.source, e.external_id, e.kind_id) for e in stored] == [
        (partner.merchant.ref, "evt-1", "rental_returned_on_time"),
        (partner.merchant.ref, "evt-2", "payment_on_time"),
    ]


def test_sending_an_event_again_counts_it_as_a_duplicate(partner, member):
    partner.post("/events", {"events": [_event(member, 1)]})

    response = partner.post("/events", {"events": [_event(member, 1), _event(member, 2)]})

    assert response.json() == {"accepted": 1, "duplicates": 1, "refused": []}
    assert ScoreEvent.objects.filter(member=member).count() == 2


def test_ids_are_the_merchants_own(partner, other_partner, member):
    linked(member, other_partner.merchant)
    partner.post("/events", {"events": [_event(member, 1)]})

    response = other_partner.post("/events", {"events": [_event(member, 1)]})

    assert response.json() == {"accepted": 1, "duplicates": 0, "refused": []}


def test_a_purchase_with_an_amount_earns_points_once(partner, member):
    EarnRuleFactory.create(
        merchant_category=partner.merchant.category, currency="CNY", points_per_unit=Decimal(1)
    )
    purchase = _event(member, 7, type="purchase", amount="420.00", currency="CNY")

    partner.post("/events", {"events": [purchase]})
    partner.post("/events", {"events": [purchase]})

    assert points_balance(member=member) == 420


def test_the_attack_of_issue_15_an_unlinked_merchant_cannot_move_a_score(partner):
    """A key with events:write reported ten negative events about a member who never dealt
    with its merchant, and the score fell from 612 to 437. Now each is refused."""
    victim = good_payer()
    before = score(victim)
    events = [
        _event(
            victim,
            n,
            type="payment_missed" if n < 5 else "booking_no_show",
            occurred_at=timezone.now().isoformat(),
        )
        for n in range(10)
    ]

    response = partner.post("/events", {"events": events})

    assert response.status_code == 202
    assert response.json() == {
        "accepted": 0,
        "duplicates": 0,
        "refused": [{"index": n, "code": "member_not_linked"} for n in range(10)],
    }
    assert not ScoreEvent.objects.filter(source=partner.merchant.ref).exists()
    settle()
    assert score(victim) == before


def test_a_linked_merchants_negative_reports_take_at_most_its_cap(partner):
    victim = good_payer()
    linked(victim, partner.merchant)
    before = score(victim)
    events = [
        _event(victim, n, type="payment_missed", occurred_at=timezone.now().isoformat()) for n in range(20)
    ]

    response = partner.post("/events", {"events": events})
    settle()

    assert response.json() == {"accepted": 20, "duplicates": 0, "refused": []}
    assert ScoreEvent.objects.filter(source=partner.merchant.ref, cap="").count() <= 3
    assert 0 < before - score(victim) <= FLOOR_POINTS


def test_an_unknown_member_and_an_unlinked_one_are_refused_alike_and_the_rest_recorded(partner, member):
    EarnRuleFactory.create(
        merchant_category=partner.merchant.category, currency="CNY", points_per_unit=Decimal(1)
    )
    stranger = JoinedMemberFactory.create()
    events = [
        _event(member, 1),
        {**_event(member, 2), "member": NOBODY},
        _event(stranger, 3, type="purchase", amount="50.00", currency="CNY"),
        _event(member, 4, type="purchase", amount="20.00", currency="CNY"),
    ]

    response = partner.post("/events", {"events": events})

    assert response.status_code == 202
    assert response.json() == {
        "accepted": 2,
        "duplicates": 0,
        "refused": [{"index": 1, "code": "member_not_linked"}, {"index": 2, "code": "member_not_linked"}],
    }
    assert sorted(ScoreEvent.objects.values_list("external_id", flat=True)) == ["evt-1", "evt-4"]
    assert (points_balance(member=member), points_balance(member=stranger)) == (20, 0)


def test_ending_a_link_refuses_new_reports_and_keeps_the_earlier_ones_counting(partner, member):
    for dimension in Dimension.values:
        consent_set(member=member, dimension=dimension, granted=True, source=ConsentSource.SEED)
    partner.post("/events", {"events": [_event(member, 1, type="payment_missed")]})
    settle()
    reported = score(member)
    link = member.links.get(merchant_ref=partner.merchant.ref, ended_at__isnull=True)

    link_end(member=member, link_id=link.pk)
    response = partner.post("/events", {"events": [_event(member, 2, type="payment_missed")]})
    settle()

    assert response.json()["refused"] == [{"index": 0, "code": "member_not_linked"}]
    assert list(ScoreEvent.objects.filter(member=member).values_list("external_id", "cap")) == [("evt-1", "")]
    assert partner.get("/events/evt-1").json()["status"] == "counted"
    assert score(member) == reported < 500


def test_a_batch_is_all_or_nothing(partner, member):
    """A purchase the ledger refuses takes the score events of its batch with it."""
    events = [_event(member, 1), _event(member, 2, type="purchase", amount="0", currency="CNY")]

    assert_error(
        partner.post("/events", {"events": events}), 400, "validation_error", param="events[1].amount"
    )
    assert not ScoreEvent.objects.exists()


def test_an_invalid_event_is_named_where_the_partner_put_it_among_refused_ones(partner, member):
    events = [
        {**_event(member, 1), "member": NOBODY},
        _event(member, 2, occurred_at=(timezone.now() + timedelta(days=1)).isoformat()),
    ]

    assert_error(
        partner.post("/events", {"events": events}), 400, "validation_error", param="events[1].occurred_at"
    )


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"type": "member_viewed"}, "events[0].type"),
        ({"type": "identity_verified"}, "events[0].type"),
        ({"occurred_at": "2026-05-01T09:00:00"}, "events[0].occurred_at"),
        ({"occurred_at": (timezone.now() + timedelta(days=1)).isoformat()}, "events[0].occurred_at"),
        ({"amount": 420.5, "currency": "CNY"}, "events[0].amount"),
        ({"amount": "4e2", "currency": "CNY"}, "events[0].amount"),
        ({"amount": "420.00"}, "events[0].amount"),
        ({"amount": "420.00", "currency": "yuan"}, "events[0].currency"),
        ({"id": ""}, "events[0].id"),
        ({"id": "x" * 201}, "events[0].id"),
        ({"colour": "red"}, "events[0].colour"),
        ({"obligation_ref": "INV-1"}, "events[0].obligation_ref"),
        ({"type": "obligation_settled", "obligation_ref": ""}, "events[0].obligation_ref"),
    ],
)
def test_an_invalid_event_is_named(partner, member, change, param):
    response = partner.post("/events", {"events": [_event(member, **change)]})

    assert_error(response, 400, "validation_error", param=param)


def test_a_settlement_naming_an_obligation_lifts_the_hold_placed_with_it(partner, member):
    hold = HoldFactory.create(member=member, merchant_ref=partner.merchant.ref, obligation_ref="RA-7")

    response = partner.post(
        "/events", {"events": [_event(member, 1, type="obligation_settled", obligation_ref="RA-7")]}
    )

    assert response.json()["accepted"] == 1
    hold.refresh_from_db()
    assert hold.status == "lifted"


@pytest.mark.parametrize(("count", "status"), [(0, 400), (BATCH_MAX, 202), (BATCH_MAX + 1, 400)])
def test_up_to_1000_events_a_call(partner, member, count, status):
    response = partner.post("/events", {"events": [_event(member, n) for n in range(count)]})

    assert response.status_code == status
    if status == 202:
        assert response.json()["accepted"] == BATCH_MAX


def test_it_needs_the_events_scope(read_only_partner, member):
    assert_error(read_only_partner.post("/events", {"events": [_event(member)]}), 403, "permission_denied")


# GET /events/{id} and POST /events/{id}/confirmation


def _disputed(partner, member, n=1) -> ScoreEvent:
    partner.post("/events", {"events": [_event(member, n, type="payment_missed")]})
    event = ScoreEvent.objects.get(source=partner.merchant.ref, external_id=f"evt-{n}")
    dispute_open(member=member, event_id=event.pk, reason="I was abroad that month; it is not mine.")
    return event


def test_an_event_reads_as_counted_then_disputed_confirmed_and_removed(partner, member):
    partner.post("/events", {"events": [_event(member, 1, type="payment_missed")]})
    counted = partner.get("/events/evt-1")
    assert counted.status_code == 200
    assert counted.json() == {
        "id": "evt-1",
        "member": member.ref,
        "type": "payment_missed",
        "occurred_at": counted.json()["occurred_at"],
        "status": "counted",
        "dispute": None,
    }
    event = ScoreEvent.objects.get(external_id="evt-1")
    dispute = dispute_open(
        member=member, event_id=event.pk, reason="I was abroad that month; it is not mine."
    )

    disputed = partner.get("/events/evt-1").json()
    assert disputed["status"] == "disputed"
    assert disputed["dispute"]["status"] == "open"
    assert disputed["dispute"]["reason"] == "I was abroad that month; it is not mine."

    confirmed = partner.post("/events/evt-1/confirmation", {"evidence": "Signed delivery slip DS-19."})
    assert confirmed.status_code == 200
    assert set(confirmed.json()) == EVENT_FIELDS
    assert confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["dispute"]["evidence"] == "Signed delivery slip DS-19."

    dispute_decide(dispute=dispute, operator=UserFactory.create(), upheld=False, note="The slip is unsigned.")
    removed = partner.get("/events/evt-1").json()
    assert removed["status"] == "removed"
    assert (removed["dispute"]["status"], removed["dispute"]["decision_note"]) == (
        "overturned",
        "The slip is unsigned.",
    )


def test_an_event_past_a_cap_reads_as_capped(partner, member):
    partner.post("/events", {"events": [_event(member, n, type="booking_no_show") for n in range(4)]})

    assert partner.get("/events/evt-3").json()["status"] == "capped"


def test_another_merchants_event_and_an_unknown_id_are_not_found(partner, other_partner, member):
    linked(member, other_partner.merchant)
    other_partner.post("/events", {"events": [_event(member, 1)]})
    _disputed(other_partner, member, 2)

    assert_error(partner.get("/events/evt-1"), 404, "not_found")
    assert_error(partner.get("/events/nothing-like-it"), 404, "not_found")
    assert_error(partner.post("/events/evt-2/confirmation", {"evidence": "Ours."}), 404, "not_found")
    assert other_partner.get("/events/evt-1").status_code == 200


def test_confirming_an_event_without_an_open_dispute_is_409(partner, member):
    partner.post("/events", {"events": [_event(member, 1)]})
    _disputed(partner, member, 2)
    partner.post("/events/evt-2/confirmation", {"evidence": "Signed delivery slip DS-19."})

    for event_id in ("evt-1", "evt-2"):
        assert_error(
            partner.post(f"/events/{event_id}/confirmation", {"evidence": "Again."}), 409, "not_disputed"
        )


@pytest.mark.parametrize(
    ("body", "param"),
    [({}, "evidence"), ({"evidence": ""}, "evidence"), ({"evidence": "x" * 2001}, "evidence")],
)
def test_a_confirmation_needs_evidence_of_up_to_2000_characters(partner, member, body, param):
    _disputed(partner, member)

    assert_error(partner.post("/events/evt-1/confirmation", body), 400, "validation_error", param=param)


def test_confirming_needs_the_events_scope(partner, read_only_partner, member):
    _disputed(partner, member)

    assert_error(
        read_only_partner.post("/events/evt-1/confirmation", {"evidence": "Ours."}), 403, "permission_denied"
    )
    assert read_only_partner.get("/events/evt-1").json()["status"] == "disputed"
