"""A member's erasure on the scoring side: holds end, the member's own words go, and the
standing stops describing them, so no later run profiles them again."""

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.members.models import Dimension, Member
from loyalty.members.services import consent_set
from loyalty.scoring.models import (
    AppealStatus,
    Dispute,
    HoldAction,
    HoldAppeal,
    HoldEnd,
    HoldStatus,
    MemberStanding,
    RecomputeRequest,
    ScoreEvent,
    ScoreSnapshot,
)
from loyalty.scoring.services import (
    ScoreEventInput,
    hold_appeal,
    score_events_record,
    score_recompute,
    scores_recompute_all,
)
from loyalty.scoring.services.disputes import dispute_open
from loyalty.scoring.services.erasure import score_erase
from perks.merchants.models import WebhookEvent
from tests.factories import MERCHANT_REF, HoldFactory, JoinedMemberFactory, MerchantFactory

pytestmark = pytest.mark.django_db


def _late_returns(member, days_ago=(3, 40, 90)):
    events = [
        ScoreEventInput(
            f"late-{member.pk}-{n}", member.pk, "rental_returned_late", timezone.now() - timedelta(days=n)
        )
        for n in days_ago
    ]
    score_events_record(source=MERCHANT_REF, events=events)


def test_holds_end_by_the_erasure_and_their_open_appeals_close_emptied():
    member, other = JoinedMemberFactory.create(), JoinedMemberFactory.create()
    merchant = MerchantFactory.create()
    live = HoldFactory.create(member=member, merchant_ref=merchant.ref)
    hold_appeal(hold=live, member=member, text="I paid it, here is my phone number: 0123 456.")
    lapsing = HoldFactory.create(member=member, expires_at=timezone.now() + timedelta(minutes=1))
    untouched = HoldFactory.create(member=other)
    now = timezone.now() + timedelta(minutes=2)

    erased(member)
    score_erase(member=member, now=now)

    live.refresh_from_db()
    lapsing.refresh_from_db()
    untouched.refresh_from_db()
    assert (live.status, live.lifted_how, live.lifted_at) == (HoldStatus.LIFTED, HoldEnd.ERASURE, now)
    assert (lapsing.status, lapsing.lifted_how, lapsing.lifted_at) == (
        HoldStatus.EXPIRED,
        HoldEnd.EXPIRY,
        lapsing.expires_at,
    )
    assert untouched.status == HoldStatus.ACTIVE
    assert live.audit.latest("at", "id").action == HoldAction.LIFTED
    assert lapsing.audit.latest("at", "id").action == HoldAction.EXPIRED
    appeal = HoldAppeal.objects.get(hold=live)
    assert (appeal.status, appeal.text) == (AppealStatus.CLOSED, "")
    resolved = WebhookEvent.objects.get(merchant=merchant, type="hold.resolved")
    assert (resolved.data["id"], resolved.data["status"]) == (live.ref, "lifted")


def test_the_members_words_leave_their_disputes_and_the_events_stay():
    member = JoinedMemberFactory.create()
    _late_returns(member, days_ago=(3,))
    event = ScoreEvent.objects.get(member=member)
    dispute_open(member=member, event_id=event.pk, reason="I returned it on time, ask Ada at the desk.")

    erased(member)
    score_erase(member=member, now=timezone.now())

    assert Dispute.objects.get(event=event).reason == ""
    assert ScoreEvent.objects.filter(member=member).count() == 1


def test_the_standing_shares_nothing_and_no_later_run_writes_about_the_member():
    member, other = JoinedMemberFactory.create(), JoinedMemberFactory.create()
    for someone in (member, other):
        consent_set(member=someone, dimension=Dimension.FULFILMENT, granted=True, source="app")
        _late_returns(someone)
    score_recompute(member_ids=[member.pk, other.pk])
    baseline = MemberStanding.objects.get(member=JoinedMemberFactory.create()).score
    assert MemberStanding.objects.get(member=member).score < baseline

    erased(member)
    score_erase(member=member, now=timezone.now())

    standing = MemberStanding.objects.get(member=member)
    assert (standing.score, standing.shared_dimensions, standing.below_band_since) == (baseline, 0, None)
    assert not RecomputeRequest.objects.filter(member=member).exists()
    assert not ScoreSnapshot.objects.filter(member=member).exists()
    others = ScoreSnapshot.objects.filter(member=other).count()
    with time_machine.travel(timezone.now() + timedelta(days=45), tick=False):
        scores_recompute_all()
    # Decay moved the other member's score; nothing was written about the erased one.
    assert ScoreSnapshot.objects.filter(member=other).count() > others
    assert not ScoreSnapshot.objects.filter(member=member).exists()
    assert MemberStanding.objects.get(member=member).score == baseline


def erased(member):
    """Marked erased, as member_erase does before the apps erase their rows."""
    Member.objects.filter(pk=member.pk).update(erased_at=timezone.now())


@pytest.mark.postgres
def test_the_database_deletes_snapshots_of_an_erased_member_only():
    member, other = JoinedMemberFactory.create(), JoinedMemberFactory.create()
    erased(member)
    assert ScoreSnapshot.objects.filter(member=member).delete()[0] > 0
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        ScoreSnapshot.objects.filter(member=other).delete()
    assert ScoreSnapshot.objects.filter(member=other).exists()
