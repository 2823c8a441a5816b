"""Disputes, as a credit file is contested: a disputed event stops counting at once; its
merchant may stand by it with evidence and an operator decides (upheld: it counts again;
overturned: removed); nobody deciding within 30 days removes it. The member is told of
every step, the merchant of the dispute and of its outcome, and every step is history."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from loyalty.core.errors import Invalid
from loyalty.members.models import ConsentSource, Dimension, LinkStart, Member, Notification
from loyalty.members.services import consent_set, link_start
from loyalty.scoring.caps import FLOOR_POINTS, WINDOW_DAYS
from loyalty.scoring.engine import epoch_day
from loyalty.scoring.errors import (
    DisputeExists,
    DisputeNotConfirmed,
    DisputeNotOpen,
    EventNotDisputable,
    NotDisputed,
    ScoreEventNotFound,
)
from loyalty.scoring.models import (
    PLATFORM_SOURCE,
    Dispute,
    DisputeChange,
    DisputeStatus,
    EventCap,
    EventStatus,
    MemberStanding,
    ScoreEvent,
)
from loyalty.scoring.selectors import event_status
from loyalty.scoring.services import (
    ScoreEventInput,
    dispute_confirm,
    dispute_decide,
    dispute_open,
    disputes_lapse,
    score_events_record,
    score_recompute_pending,
)
from perks.merchants.models import WebhookEvent
from tests.factories import JoinedMemberFactory, MerchantFactory, UserFactory
from tests.loyalty.scoring.test_caps import gaps

pytestmark = pytest.mark.django_db
START = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
REASON = "I paid this invoice on time; my bank shows the transfer on 28 April."
EVIDENCE = "Direct debit DD-88213 returned unpaid on 1 May; bank notice attached."


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def operator():
    return UserFactory.create(username="ops-lin", is_staff=True, is_superuser=True)


@pytest.fixture
def merchant():
    return MerchantFactory.create(name="Harbour Bank")


@pytest.fixture
def member(merchant) -> Member:
    member = JoinedMemberFactory.create()
    for dimension in Dimension.values:
        consent_set(member=member, dimension=dimension, granted=True, source=ConsentSource.SEED)
    link_start(member=member, merchant_ref=merchant.ref, merchant_name=merchant.name, how=LinkStart.SHARING)
    return member


@pytest.fixture
def missed(clock, member, merchant) -> ScoreEvent:
    """A missed payment the merchant reported, counted in the member's score."""
    score_events_record(
        source=merchant.ref,
        events=[ScoreEventInput("INV-5521", member.pk, "payment_missed", START - timedelta(days=2))],
    )
    settle()
    return ScoreEvent.objects.get(source=merchant.ref, external_id="INV-5521")


def settle() -> None:
    """Run the queued recomputations, as the debounced task does."""
    while score_recompute_pending():
        pass


def score(member: Member) -> int:
    return MemberStanding.objects.get(member=member).score


def history(dispute: Dispute) -> list[tuple[str, str]]:
    return list(DisputeChange.objects.filter(dispute=dispute).values_list("status", "actor"))


def told(member: Member) -> list[str]:
    notifications = Notification.objects.filter(member=member, kind__startswith="dispute_").order_by("id")
    return list(notifications.values_list("kind", flat=True))


def webhooks(merchant) -> list[tuple[str, dict]]:
    return list(WebhookEvent.objects.filter(merchant=merchant).order_by("id").values_list("type", "data"))


def status_of(event: ScoreEvent) -> str:
    return event_status(ScoreEvent.objects.select_related("dispute").get(pk=event.pk))


def test_disputed_confirmed_then_upheld_the_event_stops_counting_and_counts_again(
    missed, member, merchant, operator, clock
):
    counted = score(member)

    dispute = dispute_open(member=member, event_id=missed.pk, reason=REASON)
    settle()
    during = score(member)
    assert during > counted
    assert status_of(missed) == EventStatus.DISPUTED
    assert dispute.due_at == START + timedelta(days=30)
    [(kind, data)] = webhooks(merchant)
    assert kind == "score_event.disputed"
    assert data == {
        "id": "INV-5521",
        "member": member.ref,
        "type": "payment_missed",
        "occurred_at": missed.occurred_at.isoformat(),
        "due_at": (START + timedelta(days=30)).isoformat(),
    }

    clock.shift(timedelta(days=3))
    dispute_confirm(merchant_ref=merchant.ref, external_id="INV-5521", evidence=EVIDENCE)
    settle()
    assert score(member) == during
    assert status_of(missed) == EventStatus.CONFIRMED

    dispute_decide(dispute=dispute, operator=operator, upheld=True, note="The bank's notice shows it.")
    settle()
    assert score(member) == counted
    assert status_of(missed) == EventStatus.COUNTED
    assert history(dispute) == [
        (DisputeStatus.OPEN, "member"),
        (DisputeStatus.CONFIRMED, merchant.ref),
        (DisputeStatus.UPHELD, "operator:ops-lin"),
    ]
    assert told(member) == ["dispute_opened", "dispute_confirmed", "dispute_upheld"]
    kind, data = webhooks(merchant)[-1]
    assert (kind, data["id"], data["status"], data["outcome"]) == (
        "score_event.resolved",
        "INV-5521",
        "counted",
        "upheld",
    )
    dispute.refresh_from_db()
    assert (dispute.evidence, dispute.decided_by, dispute.decision_note) == (
        EVIDENCE,
        operator,
        "The bank's notice shows it.",
    )


def test_disputed_confirmed_then_overturned_the_event_is_removed(missed, member, merchant, operator):
    counted = score(member)
    dispute = dispute_open(member=member, event_id=missed.pk, reason=REASON)
    settle()
    during = score(member)
    dispute_confirm(merchant_ref=merchant.ref, external_id="INV-5521", evidence=EVIDENCE)

    dispute_decide(dispute=dispute, operator=operator, upheld=False, note="The transfer arrived in time.")
    settle()

    assert score(member) == during > counted
    assert status_of(missed) == EventStatus.REMOVED
    assert [status for status, _ in history(dispute)] == [
        DisputeStatus.OPEN,
        DisputeStatus.CONFIRMED,
        DisputeStatus.OVERTURNED,
    ]
    assert told(member) == ["dispute_opened", "dispute_confirmed", "dispute_overturned"]
    kind, data = webhooks(merchant)[-1]
    assert (kind, data["status"], data["outcome"]) == ("score_event.resolved", "removed", "overturned")


def test_nobody_answering_within_thirty_days_removes_the_event(missed, member, merchant, clock):
    counted = score(member)
    dispute = dispute_open(member=member, event_id=missed.pk, reason=REASON)
    settle()
    during = score(member)

    clock.shift(timedelta(days=29, hours=23))
    assert disputes_lapse() == 0
    clock.shift(timedelta(hours=1))
    assert disputes_lapse() == 1
    assert disputes_lapse() == 0
    settle()

    assert score(member) == during > counted
    assert status_of(missed) == EventStatus.REMOVED
    assert history(dispute) == [(DisputeStatus.OPEN, "member"), (DisputeStatus.LAPSED, "platform")]
    assert told(member) == ["dispute_opened", "dispute_lapsed"]
    kind, data = webhooks(merchant)[-1]
    assert (kind, data["status"], data["outcome"]) == ("score_event.resolved", "removed", "lapsed")


def test_a_confirmed_dispute_no_operator_decides_lapses_too(missed, member, merchant, clock, operator):
    dispute = dispute_open(member=member, event_id=missed.pk, reason=REASON)
    dispute_confirm(merchant_ref=merchant.ref, external_id="INV-5521", evidence=EVIDENCE)

    clock.shift(timedelta(days=31))
    assert disputes_lapse() == 1

    assert status_of(missed) == EventStatus.REMOVED
    with pytest.raises(DisputeNotOpen):
        dispute_decide(dispute=dispute, operator=operator, upheld=True, note="Too late.")


def test_the_merchant_can_confirm_only_an_open_dispute_of_its_own_event(missed, member, merchant):
    with pytest.raises(NotDisputed):
        dispute_confirm(merchant_ref=merchant.ref, external_id="INV-5521", evidence=EVIDENCE)
    dispute_open(member=member, event_id=missed.pk, reason=REASON)

    with pytest.raises(ScoreEventNotFound):
        dispute_confirm(merchant_ref=MerchantFactory.create().ref, external_id="INV-5521", evidence=EVIDENCE)
    with pytest.raises(Invalid):
        dispute_confirm(merchant_ref=merchant.ref, external_id="INV-5521", evidence="x" * 2001)
    dispute_confirm(merchant_ref=merchant.ref, external_id="INV-5521", evidence=EVIDENCE)
    with pytest.raises(NotDisputed):
        dispute_confirm(merchant_ref=merchant.ref, external_id="INV-5521", evidence=EVIDENCE)


def test_an_operator_upholds_only_what_the_merchant_stood_by_and_decides_once(missed, member, operator):
    dispute = dispute_open(member=member, event_id=missed.pk, reason=REASON)

    with pytest.raises(DisputeNotConfirmed):
        dispute_decide(dispute=dispute, operator=operator, upheld=True, note="Looks right.")
    with pytest.raises(Invalid):
        dispute_decide(dispute=dispute, operator=operator, upheld=False, note=" ")
    dispute_decide(dispute=dispute, operator=operator, upheld=False, note="No answer needed: plainly wrong.")
    with pytest.raises(DisputeNotOpen):
        dispute_decide(dispute=dispute, operator=operator, upheld=False, note="Again.")


def test_a_member_disputes_only_a_merchants_event_of_theirs_that_counts_and_once(missed, member, merchant):
    score_events_record(
        source=PLATFORM_SOURCE,
        events=[ScoreEventInput("email", member.pk, "email_verified", START - timedelta(days=1))],
    )
    score_events_record(
        source=merchant.ref,
        events=[ScoreEventInput(f"late-{n}", member.pk, "rental_returned_late", START) for n in range(4)],
    )
    platform = ScoreEvent.objects.get(source=PLATFORM_SOURCE, member=member)
    capped = ScoreEvent.objects.filter(member=member).exclude(cap="").first()
    assert capped is not None

    for event, error in [(platform, EventNotDisputable), (capped, EventNotDisputable)]:
        with pytest.raises(error):
            dispute_open(member=member, event_id=event.pk, reason=REASON)
    with pytest.raises(ScoreEventNotFound):
        dispute_open(member=JoinedMemberFactory.create(), event_id=missed.pk, reason=REASON)
    with pytest.raises(Invalid):
        dispute_open(member=member, event_id=missed.pk, reason="wrong")
    dispute_open(member=member, event_id=missed.pk, reason=REASON)
    with pytest.raises(DisputeExists):
        dispute_open(member=member, event_id=missed.pk, reason=REASON)
    assert Dispute.objects.count() == 1


def test_an_event_its_member_disputed_keeps_the_merchant_within_its_floor_if_upheld(
    clock, member, merchant, operator
):
    """A disputed negative event may count again: while its dispute is open the merchant's
    new negative events are capped as if it counted, so upholding it breaks no cap."""
    other = MerchantFactory.create()
    score_events_record(
        source=other.ref,
        events=[
            ScoreEventInput(f"p-{n}", member.pk, "payment_on_time", START - timedelta(days=10))
            for n in range(12)
        ],
    )
    score_events_record(
        source=merchant.ref, events=[ScoreEventInput("m-0", member.pk, "payment_missed", START)]
    )
    first = ScoreEvent.objects.get(source=merchant.ref, external_id="m-0")
    assert first.cap == ""
    dispute = dispute_open(member=member, event_id=first.pk, reason=REASON)
    clock.shift(timedelta(days=1))

    score_events_record(
        source=merchant.ref,
        events=[ScoreEventInput("n-0", member.pk, "payment_missed", START + timedelta(days=1))],
    )

    assert ScoreEvent.objects.get(source=merchant.ref, external_id="n-0").cap == EventCap.SCORE_FLOOR
    dispute_confirm(merchant_ref=merchant.ref, external_id="m-0", evidence=EVIDENCE)
    dispute_decide(dispute=dispute, operator=operator, upheld=True, note="Right.")
    today = epoch_day(START) + 1
    assert max(gaps(member, merchant.ref, range(today, today + WINDOW_DAYS))) <= FLOOR_POINTS
