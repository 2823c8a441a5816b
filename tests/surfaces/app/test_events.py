"""The member's score data: every event with who reported it, when, its effect and whether
it counts; "This is wrong" disputes one, which stops counting at once."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from loyalty.members.models import Dimension, LinkStart, Locale, Notification
from loyalty.members.services import consent_set, link_start
from loyalty.scoring.models import (
    PLATFORM_SOURCE,
    Dispute,
    DisputeStatus,
    EventKind,
    RecomputeRequest,
    ScoreEvent,
)
from loyalty.scoring.services import ScoreEventInput, score_events_record
from tests.factories import JoinedMemberFactory, MerchantFactory

pytestmark = pytest.mark.django_db
REASON = "I returned the car on time; the desk signed the return slip."


@pytest.fixture
def member():
    member = JoinedMemberFactory.create()
    consent_set(member=member, dimension=Dimension.FULFILMENT, granted=True, source="app")
    return member


@pytest.fixture
def rental(member):
    merchant = MerchantFactory.create(name="Swift Car Rental")
    link_start(member=member, merchant_ref=merchant.ref, merchant_name=merchant.name, how=LinkStart.SHARING)
    score_events_record(
        source=merchant.ref,
        events=[
            ScoreEventInput(
                f"late-{n}", member.pk, "rental_returned_late", timezone.now() - timedelta(hours=2)
            )
            for n in range(4)
        ],
    )
    return merchant


def test_every_event_shows_its_source_type_date_and_whether_it_counts(signed_in, member, rental):
    score_events_record(
        source=PLATFORM_SOURCE,
        events=[ScoreEventInput("email", member.pk, "email_verified", timezone.now() - timedelta(days=1))],
    )

    response = signed_in.get(reverse("app:events"))
    page = response.content.decode()

    assert response.status_code == 200
    rows = response.context["rows"]
    assert {row.merchant_name for row in rows} == {"Swift Car Rental", "Perkline"}
    assert sorted(row.status for row in rows) == ["capped", "counted", "counted", "counted", "counted"]
    assert [row.can_dispute for row in rows if row.merchant_name == "Perkline"] == [False]
    assert sum(row.can_dispute for row in rows) == 3
    assert escape(EventKind.objects.get(code="rental_returned_late").label) in page
    assert escape("Does not count: past this merchant's cap") in page
    assert page.count("This is wrong") == 3


def test_the_kind_is_named_in_the_members_language(client, member, rental):
    member.locale = Locale.SIMPLIFIED_CHINESE
    member.save(update_fields=["locale"])
    client.force_login(member.user)

    rows = client.get(reverse("app:events")).context["rows"]

    event = rows[0].event
    assert rows[0].kind_label == (event.kind.label_zh or event.kind.label)


def test_this_is_wrong_disputes_the_event_which_stops_counting(signed_in, member, rental):
    event = ScoreEvent.objects.filter(member=member, cap="").earliest("id")
    RecomputeRequest.objects.all().delete()

    response = signed_in.post(reverse("app:event-dispute", args=[event.pk]), {"reason": REASON}, follow=True)

    dispute = Dispute.objects.get(event=event)
    assert (dispute.status, dispute.reason) == (DisputeStatus.OPEN, REASON)
    assert RecomputeRequest.objects.filter(member=member).exists()
    assert Notification.objects.filter(member=member, kind="dispute_opened").exists()
    row = next(row for row in response.context["rows"] if row.event.pk == event.pk)
    assert (row.status, row.can_dispute) == ("disputed", False)
    assert escape(REASON) in response.content.decode()


def test_a_reason_is_needed(signed_in, member, rental):
    event = ScoreEvent.objects.filter(member=member, cap="").earliest("id")

    signed_in.post(reverse("app:event-dispute", args=[event.pk]), {"reason": "no"})

    assert not Dispute.objects.exists()


def test_another_members_event_cannot_be_disputed(signed_in, rental):
    someone_else = JoinedMemberFactory.create()
    score_events_record(
        source=rental.ref,
        events=[ScoreEventInput("theirs", someone_else.pk, "booking_no_show", timezone.now())],
    )
    theirs = ScoreEvent.objects.get(external_id="theirs")

    response = signed_in.post(reverse("app:event-dispute", args=[theirs.pk]), {"reason": REASON}, follow=True)

    assert not Dispute.objects.exists()
    assert "No such event." in response.content.decode()


def test_the_data_download_holds_the_members_disputes(signed_in, member, rental):
    event = ScoreEvent.objects.filter(member=member, cap="").earliest("id")
    signed_in.post(reverse("app:event-dispute", args=[event.pk]), {"reason": REASON})

    exported = signed_in.get(reverse("app:privacy-export")).json()

    [dispute] = exported["disputes"]
    assert (
        dispute["event__source"],
        dispute["event__external_id"],
        dispute["reason"],
        dispute["status"],
    ) == (
        rental.ref,
        event.external_id,
        REASON,
        "open",
    )
    assert sorted(e["cap"] for e in exported["score_events"]) == ["", "", "", "daily_negatives"]
