"""A member's erasure (loyalty/members/events.py `member_erased`): what the scoring side
keeps stops describing a person.

Their holds end (HoldEnd.ERASURE) and open appeals close; the member's own words, dispute
reasons and appeal texts, are emptied; the standing goes back to the baseline with nothing
shared and queued recomputations are dropped, so no later run profiles them again; the
score snapshots, the record of how the member was profiled, are deleted (their table
stays append-only for everyone else: scoring migration 0012).

Score events stay, under the pseudonymous ref: they are the merchants' reports, and
history. Tier changes stay too, and say no more than the ref's tiers.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import F

from loyalty.members.models import Member
from loyalty.scoring.bands import Bands
from loyalty.scoring.engine import ENGINE, compute, epoch_day
from loyalty.scoring.models import (
    AppealStatus,
    Dispute,
    Hold,
    HoldAction,
    HoldAppeal,
    HoldAuditEntry,
    HoldEnd,
    HoldStatus,
    MemberStanding,
    RecomputeRequest,
    ScoreSnapshot,
)
from loyalty.scoring.services.holds import HOLD_EXPIRED, HOLD_LIFTED, holds_announce

ERASURE_ACTOR = "system"


def score_erase(*, member: Member, now: datetime) -> None:
    with transaction.atomic():
        _holds_end(member, now)
        Dispute.objects.filter(member=member).exclude(reason="").update(reason="")
        HoldAppeal.objects.filter(hold__member=member).exclude(text="").update(text="")
        _standing_reset(member, now)
        RecomputeRequest.objects.filter(member=member).delete()
        ScoreSnapshot.objects.filter(member=member).delete()


def _holds_end(member: Member, now: datetime) -> None:
    """End every active hold as the job and the erasure each would: one past its expiry
    expired then, the others end now."""
    holds = list(
        Hold.objects.select_for_update(of=("self",))
        .filter(member=member, status=HoldStatus.ACTIVE)
        .order_by("pk")
    )
    if not holds:
        return
    lapsed = [hold for hold in holds if hold.expires_at <= now]
    ending = [hold for hold in holds if hold.expires_at > now]
    Hold.objects.filter(pk__in=[hold.pk for hold in lapsed]).update(
        status=HoldStatus.EXPIRED, lifted_at=F("expires_at"), lifted_how=HoldEnd.EXPIRY
    )
    Hold.objects.filter(pk__in=[hold.pk for hold in ending]).update(
        status=HoldStatus.LIFTED, lifted_at=now, lifted_how=HoldEnd.ERASURE
    )
    endings = (
        (lapsed, HoldAction.EXPIRED, "The hold reached its expiry."),
        (ending, HoldAction.LIFTED, "Ended: the member's account was erased."),
    )
    HoldAuditEntry.objects.bulk_create(
        HoldAuditEntry(hold=hold, action=action, actor=ERASURE_ACTOR, note=note, at=now)
        for ended, action, note in endings
        for hold in ended
    )
    HoldAppeal.objects.filter(hold__in=holds, status=AppealStatus.OPEN).update(
        status=AppealStatus.CLOSED, decided_at=now, decision_note="The hold ended before a decision."
    )
    holds_announce(lapsed, "hold.resolved", HOLD_EXPIRED)
    holds_announce(ending, "hold.resolved", HOLD_LIFTED)


def _standing_reset(member: Member, now: datetime) -> None:
    """The baseline of a member who shares nothing, as `standing_create` starts one; the
    version moves, so a nightly run that read the standing before leaves it alone."""
    computation = compute([], (), epoch_day(now))
    band = Bands.load().for_score(computation.score)
    MemberStanding.objects.filter(member=member).update(
        score=computation.score,
        tier_id=band.id,
        shared_dimensions=0,
        below_band_since=None,
        engine_version=ENGINE.version,
        version=F("version") + 1,
        updated_at=now,
    )
