"""The app's Sharing page, "Merchants you share with": every link the member made, how and
since when, what each merchant reported; ending a link and adding a merchant. A member
only ever sees and ends their own links."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.members.models import LinkEnd, LinkStart, MerchantLink
from loyalty.scoring.models import EventKind
from loyalty.scoring.services import ScoreEventInput, score_events_record
from perks.merchants.models import MerchantStatus
from tests.factories import JoinedMemberFactory, MerchantFactory
from tests.support.links import linked, unlinked

pytestmark = pytest.mark.django_db
URL = reverse("app:consents")


def _reported(member, merchant, *kinds):
    now = timezone.now()
    events = [
        ScoreEventInput(f"{merchant.ref}-{n}", member.pk, kind, now - timedelta(days=n + 1))
        for n, kind in enumerate(kinds)
    ]
    score_events_record(source=merchant.ref, events=events)


def _label(kind):
    return EventKind.objects.get(code=kind).label


def test_every_link_with_how_and_since_when_and_what_each_merchant_reported(signed_in, member):
    rental, hotel, stranger = (MerchantFactory.create(name=n) for n in ("Jade Road", "Lantern", "Nobody Ltd"))
    linked(member, rental, how=LinkStart.PASS)
    unlinked(member, hotel)
    _reported(member, rental, "rental_returned_on_time", "booking_no_show")
    _reported(member, hotel, "payment_missed")
    _reported(member, stranger, "payment_on_time")  # a merchant the member never linked with

    response = signed_in.get(URL)

    page = response.content.decode()
    shared = response.context["shared_merchants"]
    assert [entry.merchant_name for entry in shared] == ["Jade Road", "Lantern"]  # active first, no stranger
    assert shared[0].active is not None
    assert shared[1].active is None
    assert str(LinkStart.PASS.label) in page
    assert str(LinkStart.SHARING.label) in page
    assert str(LinkEnd.MEMBER.label) in page
    assert "Shared since" in page
    assert "Shared from" in page
    for kind in ("rental_returned_on_time", "booking_no_show", "payment_missed"):
        assert _label(kind) in page
    assert _label("payment_on_time") not in page
    assert [report.effect for report in shared[0].reports] == ["Raises your score", "Lowers your score"]
    assert "What they reported" in page
    assert reverse("app:events") in page  # the full list, with disputes


def test_ending_a_link_is_explained_before_it_is_confirmed(signed_in, member):
    link = linked(member, MerchantFactory.create(name="Blue Kettle"))

    page = signed_in.get(URL).content.decode()

    assert "End this link" in page
    assert reverse("app:link-end", args=[link.pk]) in page
    assert "no longer be able to look you up" in page
    assert "keeps counting until it ages out" in page
    assert "dispute it" in page
    assert "stop sharing it above" in page


def test_a_member_ends_their_link_and_the_page_says_so(signed_in, member):
    link = linked(member, MerchantFactory.create(name="Blue Kettle"))

    response = signed_in.post(reverse("app:link-end", args=[link.pk]), follow=True)

    link.refresh_from_db()
    assert (link.ended_by, link.ended_at is not None) == (LinkEnd.MEMBER, True)
    assert response.redirect_chain[-1][0] == URL
    assert "You no longer share with Blue Kettle" in response.content.decode()
    assert response.context["shared_merchants"][0].active is None


def test_another_members_link_or_an_ended_one_cannot_be_ended(signed_in, member):
    theirs = linked(JoinedMemberFactory.create(), MerchantFactory.create())
    ended = unlinked(member, MerchantFactory.create())

    assert signed_in.post(reverse("app:link-end", args=[theirs.pk])).status_code == 404
    assert signed_in.post(reverse("app:link-end", args=[ended.pk])).status_code == 404
    assert signed_in.get(reverse("app:link-end", args=[theirs.pk])).status_code == 405
    theirs.refresh_from_db()
    assert theirs.is_active


def test_another_members_links_are_never_shown(signed_in, member):
    linked(JoinedMemberFactory.create(), MerchantFactory.create(name="Someone Else's Shop"))

    response = signed_in.get(URL)

    assert response.context["shared_merchants"] == []
    page = response.content.decode()
    assert "You share with no merchant yet" in page
    assert "Someone Else&#x27;s Shop" in page  # offered to add, as any active merchant is
    assert "End this link" not in page


def test_a_member_adds_an_active_merchant(signed_in, member):
    merchant = MerchantFactory.create(name="Harbour Exchange")
    assert "Harbour Exchange" in signed_in.get(URL).content.decode()

    response = signed_in.post(reverse("app:link-add"), {"merchant": merchant.ref}, follow=True)

    link = MerchantLink.objects.get(member=member)
    assert (link.merchant_ref, link.merchant_name, link.started_by) == (
        merchant.ref,
        "Harbour Exchange",
        LinkStart.SHARING,
    )
    assert link.is_active
    assert "You now share with Harbour Exchange" in response.content.decode()
    # Already shared with: no longer offered.
    assert list(response.context["link_add_form"].fields["merchant"].queryset) == []
    assert "You already share with every merchant" in response.content.decode()


@pytest.mark.parametrize("status", [MerchantStatus.SUSPENDED, MerchantStatus.PAUSED_BILLING])
def test_only_an_active_merchant_can_be_added(signed_in, member, status):
    merchant = MerchantFactory.create(status=status)

    response = signed_in.post(reverse("app:link-add"), {"merchant": merchant.ref}, follow=True)

    assert not MerchantLink.objects.exists()
    assert "Pick one of the merchants listed" in response.content.decode()
    assert merchant.name not in response.content.decode()


def test_adding_a_merchant_already_shared_with_keeps_the_link(signed_in, member):
    merchant = MerchantFactory.create()
    first = linked(member, merchant, how=LinkStart.PASS)

    signed_in.post(reverse("app:link-add"), {"merchant": merchant.ref})

    assert list(MerchantLink.objects.filter(member=member)) == [first]
