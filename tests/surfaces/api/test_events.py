"""POST /events: members' events into scoring, purchases into points, once per id."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.points.selectors import points_balance
from loyalty.scoring.models import ScoreEvent
from surfaces.api.serializers import BATCH_MAX
from tests.factories import EarnRuleFactory, JoinedMemberFactory
from tests.surfaces.api.conftest import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    return JoinedMemberFactory.create()


def _event(member, n=1, **changes):
    return {
        "id": f"evt-{n}",
        "member": member.ref,
        "type": "rental_returned_on_time",
        "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        **changes,
    }


def test_events_are_recorded_for_the_merchant(partner, member):
    response = partner.post(
        "/events", {"events": [_event(member, 1), _event(member, 2, type="payment_on_time")]}
    )

    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicates": 0}
    stored = ScoreEvent.objects.filter(member=member).order_by("external_id")
    assert [(e.source, e.external_id, e.kind_id) for e in stored] == [
        (partner.merchant.ref, "evt-1", "rental_returned_on_time"),
        (partner.merchant.ref, "evt-2", "payment_on_time"),
    ]


def test_sending_an_event_again_counts_it_as_a_duplicate(partner, member):
    partner.post("/events", {"events": [_event(member, 1)]})

    response = partner.post("/events", {"events": [_event(member, 1), _event(member, 2)]})

    assert response.json() == {"accepted": 1, "duplicates": 1}
    assert ScoreEvent.objects.filter(member=member).count() == 2


def test_ids_are_the_merchants_own(partner, other_partner, member):
    partner.post("/events", {"events": [_event(member, 1)]})

    response = other_partner.post("/events", {"events": [_event(member, 1)]})

    assert response.json() == {"accepted": 1, "duplicates": 0}


def test_a_purchase_with_an_amount_earns_points_once(partner, member):
    EarnRuleFactory.create(
        merchant_category=partner.merchant.category, currency="CNY", points_per_unit=Decimal(1)
    )
    purchase = _event(member, 7, type="purchase", amount="420.00", currency="CNY")

    partner.post("/events", {"events": [purchase]})
    partner.post("/events", {"events": [purchase]})

    assert points_balance(member=member) == 420


def test_an_unknown_member_is_named_by_its_event(partner, member):
    events = [_event(member, 1), {**_event(member, 2), "member": "mem_" + "0" * 20}]

    assert_error(
        partner.post("/events", {"events": events}), 400, "validation_error", param="events[1].member"
    )
    assert not ScoreEvent.objects.exists()


def test_a_batch_is_all_or_nothing(partner, member):
    """A purchase the ledger refuses takes the score events of its batch with it."""
    events = [_event(member, 1), _event(member, 2, type="purchase", amount="0", currency="CNY")]

    assert_error(
        partner.post("/events", {"events": events}), 400, "validation_error", param="events[1].amount"
    )
    assert not ScoreEvent.objects.exists()


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
    ],
)
def test_an_invalid_event_is_named(partner, member, change, param):
    response = partner.post("/events", {"events": [_event(member, **change)]})

    assert_error(response, 400, "validation_error", param=param)


@pytest.mark.parametrize(("count", "status"), [(0, 400), (BATCH_MAX, 202), (BATCH_MAX + 1, 400)])
def test_up_to_1000_events_a_call(partner, member, count, status):
    response = partner.post("/events", {"events": [_event(member, n) for n in range(count)]})

    assert response.status_code == status
    if status == 202:
        assert response.json()["accepted"] == BATCH_MAX


def test_it_needs_the_events_scope(read_only_partner, member):
    assert_error(read_only_partner.post("/events", {"events": [_event(member)]}), 403, "permission_denied")
