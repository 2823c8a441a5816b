"""A hold a merchant placed, as its member reads it in the app: at once in their messages,
with why and how to lift it, and in full, with the appeal form, under Holds."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils.html import escape

from loyalty.scoring.models import HoldEnd
from surfaces.app.templatetags.app_format import day
from tests.factories import HoldFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
DETAIL = "The car of rental RA-7 was due back on 28 April and has not been returned."


def _placed(member, **fields):
    return HoldFactory.create(
        member=member,
        merchant_name="Swift Car Rental",
        reason_code="unreturned_rental",
        detail=DETAIL,
        evidence="",
        lift_condition="",
        **fields,
    )


def test_the_member_is_told_at_once_why_how_to_lift_it_and_where_to_appeal(signed_in, member):
    with time_machine.travel(START, tick=False):
        hold = _placed(member, obligation_ref="RA-7", expires_at=START + timedelta(days=30))
        page = signed_in.get(reverse("app:messages")).content.decode()

    assert "Swift Car Rental paused some of its perks for you." in page
    assert "Why: A rental not returned." in page
    lift = "Settle RA-7 with Swift Car Rental; the hold is lifted once they report it settled."
    assert escape(lift) in page
    assert day(hold.expires_at) in page
    assert f'href="{reverse("app:holds")}#{hold.ref}"' in page


def test_the_holds_page_shows_the_merchants_account_and_what_its_terms_mean(signed_in, member):
    hold = _placed(member, obligation_ref="", lift_on=HoldEnd.OBLIGATION_SETTLED)

    page = signed_in.get(reverse("app:holds")).content.decode()

    assert f'id="{hold.ref}"' in page
    assert "A rental not returned" in page
    assert DETAIL in page
    lift = "Settle what you owe Swift Car Rental; the hold is lifted once they report it settled."
    assert escape(lift) in page
    assert "Contest this hold" in page
    assert reverse("app:hold-appeal", args=[hold.ref]) in page


def test_a_hold_without_terms_says_the_merchant_lifts_it(signed_in, member):
    _placed(member, obligation_ref="")

    page = signed_in.get(reverse("app:holds")).content.decode()

    assert escape("Resolve the matter with Swift Car Rental, who lifts the hold once it is resolved.") in page
