"""Reading scores, tiers, audiences and holds.

What a member sees about themselves (standing, explanation, holds) and what one merchant
may see (its own holds) are separate functions: a hold is never readable by another
merchant, and no selector here lists one merchant's holds to another.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from loyalty.members.models import Member
from loyalty.scoring import explain, sql
from loyalty.scoring.bands import grace_period
from loyalty.scoring.errors import HoldNotFound, TierNotFound
from loyalty.scoring.models import (
    AppealStatus,
    EventKind,
    Hold,
    HoldAppeal,
    HoldCategory,
    HoldEnd,
    HoldStatus,
    MemberStanding,
    ScoreEvent,
    ScoreSnapshot,
    Tier,
    TierChange,
)


@dataclass(frozen=True)
class Standing:
    score: int
    tier: Tier
    # While the score sits below the tier's band: the date the member moves down unless
    # it recovers, and to which tier (the band the score is in now).
    pending_downgrade_on: datetime | None
    pending_tier: Tier | None
    updated_at: datetime


@dataclass(frozen=True)
class Explanation:
    score: int
    tier: Tier
    computed_at: datetime
    engine_version: int
    contributions: list[explain.Contribution]
    reasons: list[explain.Reason]


@dataclass(frozen=True)
class MemberHold:
    """A hold as its member sees it: who, why, how to lift it, until when, and the appeal."""

    hold: Hold
    reason: str
    is_active: bool
    appeal: HoldAppeal | None
    can_appeal: bool


def standing_of(*, member: Member) -> Standing:
    return standing_from(MemberStanding.objects.select_related("tier").get(member=member))


def standing_from(standing: MemberStanding) -> Standing:
    """The Standing of a row already read with its tier (joined into a caller's query)."""
    pending_tier = None
    if standing.below_band_since is not None:
        pending_tier = Tier.objects.filter(
            min_score__lte=standing.score, max_score__gte=standing.score
        ).first()
    return Standing(
        score=standing.score,
        tier=standing.tier,
        pending_downgrade_on=standing.below_band_since + grace_period()
        if standing.below_band_since
        else None,
        pending_tier=pending_tier,
        updated_at=standing.updated_at,
    )


def snapshot_latest(*, member: Member) -> ScoreSnapshot | None:
    return (
        ScoreSnapshot.objects.filter(member=member)
        .order_by("-computed_at", "-id")
        .select_related("tier")
        .first()
    )


def score_explanation(*, member: Member) -> Explanation | None:
    """The latest snapshot with each dimension's contribution and up to four reasons."""
    snapshot = snapshot_latest(member=member)
    if snapshot is None:
        return None
    return Explanation(
        score=snapshot.score,
        tier=snapshot.tier,
        computed_at=snapshot.computed_at,
        engine_version=snapshot.engine_version,
        contributions=explain.contributions(snapshot),
        reasons=explain.reasons(snapshot),
    )


def score_history(*, member: Member) -> QuerySet[ScoreSnapshot]:
    return ScoreSnapshot.objects.filter(member=member).order_by("-computed_at", "-id").select_related("tier")


def tier_history(*, member: Member) -> QuerySet[TierChange]:
    return (
        TierChange.objects.filter(member=member)
        .order_by("-changed_at", "-id")
        .select_related("tier", "previous_tier")
    )


def member_score_events(*, member: Member) -> QuerySet[ScoreEvent]:
    """The data behind a member's score, newest first (merchant names are the caller's to add)."""
    return ScoreEvent.objects.filter(member=member).order_by("-occurred_at", "-id").select_related("kind")


def event_kinds() -> QuerySet[EventKind]:
    return EventKind.objects.all()


def tiers() -> QuerySet[Tier]:
    return Tier.objects.order_by("rank")


def tier_by_slug(slug: str) -> Tier:
    tier = Tier.objects.filter(slug=slug).first()
    if tier is None:
        raise TierNotFound(param="tier")
    return tier


def audience(*, min_tier: str | None = None, min_score: int | None = None) -> QuerySet[Member]:
    """Members at or above a tier and/or a score, by primary key (campaigns chunk by pk)."""
    members = Member.objects.all()
    if min_tier is not None:
        members = members.filter(standing__tier__rank__gte=tier_by_slug(min_tier).rank)
    if min_score is not None:
        members = members.filter(standing__score__gte=min_score)
    return members.order_by("pk")


def holds_active(*, member: Member, merchant_ref: str, category: str) -> QuerySet[Hold]:
    """This merchant's holds that suspend its perks of `category` for this member now."""
    return holds_suspending(merchant_ref=merchant_ref, category=category).filter(member=member)


def hold_held_until(*, member: Member, merchant_ref: str, category: str, at: datetime) -> datetime | None:
    """Until when this merchant last held the member's perks of `category`, as of `at`:
    later than `at` while a hold is in force, None if it never held them."""
    return sql.hold_held_until(member_id=member.pk, merchant_ref=merchant_ref, category=category, at=at)


def hold_recent_exists(*, member: Member, merchant_ref: str, category: str, days: int) -> bool:
    """Did this merchant hold the member's perks of `category` at any time in the last `days`?

    A hold overturned on appeal does not count: it should never have been placed.
    """
    now = timezone.now()
    held_until = hold_held_until(member=member, merchant_ref=merchant_ref, category=category, at=now)
    return hold_recent(held_until, days=days, now=now)


def hold_recent(held_until: datetime | None, *, days: int, now: datetime) -> bool:
    """Whether a hold in force until `held_until` (hold_held_until) counts against a perk
    that needs `days` without one; with no days, whether it is in force now."""
    return held_until is not None and held_until > now - timedelta(days=days)


def holds_suspending(
    *, merchant_ref: str, category: str, hold_free_days: int | None = None
) -> QuerySet[Hold]:
    """Every member's holds by this merchant that keep its perks of `category` from them now:
    the active ones, or with `hold_free_days` any in that many days (for many members at once)."""
    now = timezone.now()
    holds = Hold.objects.filter(merchant_ref=merchant_ref, category__in=[category, HoldCategory.ALL])
    holds = holds.filter(placed_at__lte=now)
    if not hold_free_days:
        return holds.filter(status=HoldStatus.ACTIVE, expires_at__gt=now)
    since = now - timedelta(days=hold_free_days)
    ongoing = Q(status=HoldStatus.ACTIVE, expires_at__gt=since)
    ended = ~Q(status=HoldStatus.ACTIVE) & Q(lifted_at__gt=since) & ~Q(lifted_how=HoldEnd.APPEAL)
    return holds.filter(ongoing | ended)


def holds_of_member(*, member: Member) -> list[MemberHold]:
    """Every hold the member is or was under, newest first, with how to lift or contest it."""
    now = timezone.now()
    appeals = Prefetch("appeals", queryset=HoldAppeal.objects.order_by("-filed_at", "-id"))
    holds = Hold.objects.filter(member=member).prefetch_related(appeals).order_by("-placed_at", "-id")
    views = []
    for hold in holds:
        latest = next(iter(hold.appeals.all()), None)
        is_active = hold.status == HoldStatus.ACTIVE and hold.expires_at > now
        views.append(
            MemberHold(
                hold=hold,
                reason=hold.get_reason_code_display(),
                is_active=is_active,
                appeal=latest,
                can_appeal=is_active and (latest is None or latest.status != AppealStatus.OPEN),
            )
        )
    return views


def hold_of_member(*, member: Member, ref: str) -> Hold:
    hold = Hold.objects.filter(member=member, ref=ref).first()
    if hold is None:
        raise HoldNotFound(param="hold")
    return hold


def holds_of_merchant(*, merchant_ref: str, status: str | None = None) -> QuerySet[Hold]:
    holds = Hold.objects.filter(merchant_ref=merchant_ref)
    if status is not None:
        holds = holds.filter(status=status)
    return holds.select_related("member").order_by("-placed_at", "-id")


def hold_of_merchant(*, merchant_ref: str, ref: str) -> Hold:
    """One of the merchant's holds; another merchant's is reported as not found."""
    hold = Hold.objects.filter(merchant_ref=merchant_ref, ref=ref).first()
    if hold is None:
        raise HoldNotFound(param="hold")
    return hold
