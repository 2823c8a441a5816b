"""The Sharing page reads, of what each linked merchant reported, a count and the latest
REPORTS_SHOWN events, not the member's whole history, and shows exactly what reading
everything showed: the same merchants, links, counts and reports (capped and disputed
events, events at the same moment, a merchant with fewer than REPORTS_SHOWN, one never
linked)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from loyalty.members.models import Locale
from loyalty.members.selectors import member_links
from loyalty.scoring.models import Dispute, DisputeStatus, ScoreEvent
from loyalty.scoring.selectors import member_events_by_source, member_score_events
from loyalty.scoring.services import (
    ScoreEventInput,
    dispute_confirm,
    dispute_decide,
    dispute_open,
    disputes_lapse,
    score_events_record,
)
from surfaces.app.sharing import REPORTS_SHOWN, SharedMerchant, _report
from tests.factories import JoinedMemberFactory, MerchantFactory, UserFactory
from tests.support.links import linked, unlinked

pytestmark = pytest.mark.django_db
URL = reverse("app:consents")
# Every statement the page runs for a signed-in member, whatever their history: the
# session, user and member, consents, links, the count and the latest reports by merchant,
# and the merchants to add (whether there is one, then which).
PAGE_QUERIES = 9
KINDS = ("purchase", "payment_on_time", "payment_missed", "booking_no_show", "rental_returned_late")


def _reported(member, merchant, count, *, start=0):
    """`count` events of the merchant about the member, kinds in turn, two at each moment
    (to the microsecond) and three days between moments."""
    now = timezone.now().replace(microsecond=0)
    events = [
        ScoreEventInput(
            f"{merchant.ref}-{n}", member.pk, KINDS[n % len(KINDS)], now - timedelta(days=(n // 2) * 3 + 1)
        )
        for n in range(start, start + count)
    ]
    score_events_record(source=merchant.ref, events=events)


def _capped(member, merchant):
    """Five missed payments on one day: past the daily cap, the last ones never count."""
    at = timezone.now() - timedelta(days=2, hours=3)
    score_events_record(
        source=merchant.ref,
        events=[
            ScoreEventInput(f"{merchant.ref}-cap-{n}", member.pk, "payment_missed", at) for n in range(5)
        ],
    )


def _disputes(member, merchant):
    """A dispute of every status on the merchant's latest events, and one on an old event."""
    operator = UserFactory.create(is_staff=True, is_superuser=True)
    events = list(
        ScoreEvent.objects.filter(member=member, source=merchant.ref, cap="").order_by("-occurred_at", "-id")
    )
    chosen = [*events[1:11:2], events[-1]]
    outcomes = ["open", "confirmed", "upheld", "overturned", "lapsed", "open"]
    for event, outcome in zip(chosen, outcomes, strict=True):
        dispute = dispute_open(member=member, event_id=event.pk, reason="This never happened, I was away.")
        if outcome in ("confirmed", "upheld"):
            dispute_confirm(merchant_ref=merchant.ref, external_id=event.external_id, evidence="Our ledger.")
        if outcome in ("upheld", "overturned"):
            dispute_decide(dispute=dispute, operator=operator, upheld=outcome == "upheld", note="Checked.")
        if outcome == "lapsed":
            Dispute.objects.filter(pk=dispute.pk).update(due_at=timezone.now() - timedelta(days=1))
            disputes_lapse()


@pytest.fixture
def member():
    return JoinedMemberFactory.create()


@pytest.fixture
def history(member):
    """Linked with three merchants (one link ended, one merchant linked twice), each of
    which reported more than REPORTS_SHOWN events but one; a merchant never linked."""
    rental, hotel, books, coffee, stranger = (
        MerchantFactory.create(name=name)
        for name in ("Jade Road", "Lantern Hotel", "Paper Crane", "Harbour Coffee", "Nobody Ltd")
    )
    unlinked(member, rental)
    linked(member, rental)
    linked(member, hotel)
    unlinked(member, books)
    linked(member, coffee)
    _reported(member, rental, REPORTS_SHOWN + 9)
    _capped(member, rental)
    _reported(member, hotel, REPORTS_SHOWN + 3)
    _reported(member, books, REPORTS_SHOWN * 2)
    _reported(member, coffee, 4)
    _reported(member, stranger, REPORTS_SHOWN + 1)
    for merchant in (rental, hotel):
        _disputes(member, merchant)
    return member


def _read_everything(member) -> list[SharedMerchant]:
    """What the page showed when it read every event its linked merchants reported: each
    counted, the first REPORTS_SHOWN of each merchant, newest first, kept."""
    shared: dict[str, SharedMerchant] = {}
    for link in member_links(member=member):
        shared.setdefault(
            link.merchant_ref, SharedMerchant(link.merchant_ref, link.merchant_name)
        ).links.append(link)
    zh = member.locale == Locale.SIMPLIFIED_CHINESE
    for event in member_score_events(member=member).filter(source__in=list(shared)).select_related("dispute"):
        entry = shared[event.source]
        entry.reported += 1
        if len(entry.reports) < REPORTS_SHOWN:
            entry.reports.append(_report(event, zh=zh))
    return list(shared.values())


@pytest.mark.parametrize("locale", [Locale.ENGLISH, Locale.SIMPLIFIED_CHINESE])
def test_the_page_shows_what_reading_every_event_showed(client, history, locale):
    history.locale = locale
    history.save(update_fields=["locale"])
    client.force_login(history.user)
    with translation.override(locale):  # as the page reads it, in the member's language
        expected = _read_everything(history)
    # The history is what it should be: over the limit, capped and disputed events shown.
    assert {entry.merchant_name: entry.reported for entry in expected} == {
        "Jade Road": REPORTS_SHOWN + 9 + 5,
        "Lantern Hotel": REPORTS_SHOWN + 3,
        "Paper Crane": REPORTS_SHOWN * 2,
        "Harbour Coffee": 4,
    }
    assert ScoreEvent.objects.filter(member=history).exclude(cap="").count() >= 2
    shown = [report for entry in expected for report in entry.reports]
    assert sum(not report.counts for report in shown) >= 2 * 4 + 2  # disputed (upheld counts) and capped
    assert set(DisputeStatus.values) == set(
        Dispute.objects.filter(member=history).values_list("status", flat=True)
    )

    response = client.get(URL)

    assert response.context["shared_merchants"] == expected
    if locale == Locale.ENGLISH:  # the merchant with 4 reports shows them all
        assert response.content.decode().count(f"The latest {REPORTS_SHOWN} of") == 3


def test_the_selector_counts_every_event_and_keeps_the_latest_of_each_source(member):
    rental, hotel, stranger = (MerchantFactory.create() for _ in range(3))
    _reported(member, rental, 12)
    _reported(member, hotel, 3)
    _reported(member, stranger, 5)
    _reported(JoinedMemberFactory.create(), rental, 7, start=100)  # another member's

    found = member_events_by_source(member=member, sources={rental.ref, hotel.ref, "mch_silent"}, latest=5)

    assert set(found) == {rental.ref, hotel.ref}  # a source that reported nothing is absent
    for merchant, total in ((rental, 12), (hotel, 3)):
        everything = list(member_score_events(member=member).filter(source=merchant.ref))
        assert found[merchant.ref].reported == total
        assert found[merchant.ref].latest == everything[:5]
    assert member_events_by_source(member=member, sources=[], latest=5) == {}


def test_the_page_runs_the_same_few_queries_however_long_the_history(
    client, member, django_assert_max_num_queries
):
    merchants = [MerchantFactory.create() for _ in range(4)]
    for merchant in merchants:
        linked(member, merchant)
    MerchantFactory.create()  # one to add
    client.force_login(member.user)
    client.get(URL)  # the session's first request writes it
    with django_assert_max_num_queries(PAGE_QUERIES) as short:
        client.get(URL)

    for merchant in merchants:
        _reported(member, merchant, REPORTS_SHOWN * 3)
        unlinked(member, merchant)  # ended, and shared again
        linked(member, merchant)

    with django_assert_max_num_queries(PAGE_QUERIES) as long:
        response = client.get(URL)
    assert len(long) == len(short)
    assert [len(entry.reports) for entry in response.context["shared_merchants"]] == [REPORTS_SHOWN] * 4
