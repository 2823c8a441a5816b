"""Reading scores, tiers, audiences and holds.

What a member sees about themselves (standing, explanation, holds) and what one merchant
may see (its own holds) are separate functions: a hold is never readable by another
merchant, and no selector here lists one merchant's holds to another.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Case, Count, F, Prefetch, Q, QuerySet, When, Window
from django.db.models.functions import RowNumber, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.core.errors import Invalid
from loyalty.members.models import Member, MerchantLink
from loyalty.scoring import explain, sql
from loyalty.scoring.bands import grace_period
from loyalty.scoring.engine import ENGINES, MILLI, contribution_milli
from loyalty.scoring.errors import HoldNotFound, ScoreEventNotFound, TierNotFound
from loyalty.scoring.models import (
    DISPUTE_REMOVED_STATUSES,
    PLATFORM_SOURCE,
    AppealStatus,
    Dispute,
    DisputeStatus,
    EventKind,
    EventStatus,
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
    lift_terms: str


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


@dataclass(frozen=True)
class MonthScore:
    """A month's last score: when it was computed, and what it was."""

    at: datetime
    score: int


def score_by_month(*, member: Member, months: int = 12, now: datetime | None = None) -> list[MonthScore]:
    """The score at the end of each of the last `months` calendar months (this one included)
    that has a snapshot, oldest first: one row per month, however often it was recomputed."""
    today = timezone.localdate(now)
    first = today.year * 12 + today.month - months  # months before this one, counted from year 0
    since = datetime(first // 12, first % 12 + 1, 1, tzinfo=timezone.get_current_timezone())
    latest_first = [F("computed_at").desc(), F("id").desc()]
    rows = (
        ScoreSnapshot.objects.filter(member=member, computed_at__gte=since)
        .annotate(month=TruncMonth("computed_at"))
        .annotate(place=Window(RowNumber(), partition_by=[F("month")], order_by=latest_first))
        .filter(place=1)
        .order_by("computed_at")
        .values_list("computed_at", "score")
    )
    return [MonthScore(at=at, score=score) for at, score in rows]


def sharing_gain_ceiling(*, engine_version: int, dimension: str) -> int:
    """The most sharing `dimension` can add to a score, in points: what a record that
    saturates it contributes (the member's own record decides how much of it they get)."""
    engine = ENGINES[engine_version]
    rule = engine.rule(dimension)
    return (contribution_milli(engine, rule, rule.saturation) + MILLI // 2) // MILLI


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
    """Members at or above a tier and/or a score, by primary key (campaigns chunk by pk);
    an erased member is in no audience."""
    members = Member.objects.filter(erased_at__isnull=True)
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
                lift_terms=hold_lift_terms(
                    lift_condition=hold.lift_condition,
                    lift_on=hold.lift_on,
                    obligation_ref=hold.obligation_ref,
                    merchant_name=hold.merchant_name,
                ),
            )
        )
    return views


def holds_in_force(*, member: Member) -> QuerySet[Hold]:
    """The member's holds suspending perks now, the soonest to expire first."""
    return Hold.objects.filter(_in_state(HOLD_ACTIVE, timezone.now()), member=member).order_by(
        "expires_at", "id"
    )


def hold_of_member(*, member: Member, ref: str) -> Hold:
    hold = Hold.objects.filter(member=member, ref=ref).first()
    if hold is None:
        raise HoldNotFound(param="hold")
    return hold


def holds_of_merchant(
    *, merchant_ref: str, state: str | None = None, active_first: bool = False
) -> QuerySet[Hold]:
    """The merchant's holds, newest first (those in force first, with `active_first`), each
    with its member and its appeals, newest first; `state` is one of HOLD_STATES."""
    now = timezone.now()
    holds = Hold.objects.filter(merchant_ref=merchant_ref)
    if state is not None:
        if state not in HOLD_STATES:
            raise Invalid(f"A hold's status is one of {', '.join(HOLD_STATES)}.", param="status")
        holds = holds.filter(_in_state(state, now))
    order = ["-placed_at", "-id"]
    if active_first:
        holds = holds.alias(ended=Case(When(_in_state(HOLD_ACTIVE, now), then=0), default=1))
        order.insert(0, "ended")
    return holds.select_related("member").prefetch_related(_appeals_newest_first()).order_by(*order)


def hold_of_merchant(*, merchant_ref: str, ref: str) -> Hold:
    """One of the merchant's holds; another merchant's is reported as not found."""
    hold = (
        Hold.objects.filter(merchant_ref=merchant_ref, ref=ref)
        .select_related("member")
        .prefetch_related(_appeals_newest_first())
        .first()
    )
    if hold is None:
        raise HoldNotFound(param="hold")
    return hold


# How a hold stands for the merchant that placed it: `overturned` is lifted on appeal.
HOLD_ACTIVE, HOLD_LIFTED, HOLD_EXPIRED, HOLD_OVERTURNED = "active", "lifted", "expired", "overturned"
HOLD_STATES = (HOLD_ACTIVE, HOLD_LIFTED, HOLD_EXPIRED, HOLD_OVERTURNED)


def hold_state(hold: Hold, *, now: datetime | None = None) -> str:
    """One of HOLD_STATES; a hold past its expiry is expired even before the job records it."""
    if hold.lifted_how == HoldEnd.APPEAL:
        return HOLD_OVERTURNED
    if hold.status == HoldStatus.ACTIVE:
        return HOLD_ACTIVE if hold.expires_at > (now or timezone.now()) else HOLD_EXPIRED
    return HOLD_EXPIRED if hold.status == HoldStatus.EXPIRED else HOLD_LIFTED


def _in_state(state: str, now: datetime) -> Q:
    in_force = Q(status=HoldStatus.ACTIVE, expires_at__gt=now)
    return {
        HOLD_ACTIVE: in_force,
        HOLD_EXPIRED: Q(status=HoldStatus.EXPIRED) | Q(status=HoldStatus.ACTIVE, expires_at__lte=now),
        HOLD_OVERTURNED: Q(lifted_how=HoldEnd.APPEAL),
        HOLD_LIFTED: Q(status=HoldStatus.LIFTED) & ~Q(lifted_how=HoldEnd.APPEAL),
    }[state]


def _appeals_newest_first() -> Prefetch:
    return Prefetch("appeals", queryset=HoldAppeal.objects.order_by("-filed_at", "-id"))


def hold_appeal_latest(hold: Hold) -> HoldAppeal | None:
    """The hold's latest appeal; read with `holds_of_merchant`, it costs no query."""
    return max(hold.appeals.all(), key=lambda appeal: (appeal.filed_at, appeal.pk), default=None)


def hold_lift_terms(*, lift_condition: str, lift_on: str, obligation_ref: str, merchant_name: str) -> str:
    """What the member must do to have a hold lifted, in their language: the merchant's own
    words where it gave them, or else what its terms mean (a settlement the merchant reports
    lifts it; otherwise the merchant lifts it once the matter is resolved)."""
    if lift_condition.strip():
        return lift_condition
    if obligation_ref:
        text = _("Settle %(obligation)s with %(merchant)s; the hold is lifted once they report it settled.")
    elif lift_on == HoldEnd.OBLIGATION_SETTLED:
        text = _("Settle what you owe %(merchant)s; the hold is lifted once they report it settled.")
    else:
        text = _("Resolve the matter with %(merchant)s, who lifts the hold once it is resolved.")
    return text % {"merchant": merchant_name, "obligation": obligation_ref}


# Score events and their disputes: what the member and the reporting merchant see.

PLATFORM_NAME = "Perkline"


@dataclass(frozen=True)
class MemberEvent:
    """An event as its member sees it: from whom, whether it counts, and its dispute."""

    event: ScoreEvent
    merchant_name: str
    kind_label: str
    status: str
    status_label: str
    dispute: Dispute | None
    can_dispute: bool


def event_status(event: ScoreEvent) -> EventStatus:
    """counted, capped, disputed, confirmed or removed (an upheld dispute counts again)."""
    if event.cap:
        return EventStatus.CAPPED
    dispute = getattr(event, "dispute", None)
    if dispute is None or dispute.status == DisputeStatus.UPHELD:
        return EventStatus.COUNTED
    if dispute.status in DISPUTE_REMOVED_STATUSES:
        return EventStatus.REMOVED
    return EventStatus.CONFIRMED if dispute.status == DisputeStatus.CONFIRMED else EventStatus.DISPUTED


def merchant_names_of_member(*, pairs: list[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """The name each member knows each merchant ref by (their latest link with it), for
    (member id, merchant ref) pairs; the platform is Perkline, a merchant never linked its ref."""
    names = {(member_id, ref): PLATFORM_NAME if ref == PLATFORM_SOURCE else ref for member_id, ref in pairs}
    links = (
        MerchantLink.objects.filter(
            member_id__in={member_id for member_id, _ in pairs},
            merchant_ref__in={ref for _, ref in pairs},
        )
        .order_by("started_at", "id")
        .values_list("member_id", "merchant_ref", "merchant_name")
    )
    for member_id, ref, name in links:  # the latest link's name last
        if (member_id, ref) in names:
            names[(member_id, ref)] = name
    return names


def member_events(*, member: Member) -> QuerySet[ScoreEvent]:
    """The member's events, newest first, with their kind and dispute."""
    return member_score_events(member=member).select_related("dispute")


@dataclass(frozen=True)
class SourceReports:
    """What one source reported about a member: how many events in all, and the latest."""

    reported: int
    latest: list[ScoreEvent]  # newest first, with their kind and dispute


def member_events_by_source(
    *, member: Member, sources: Collection[str], latest: int
) -> dict[str, SourceReports]:
    """For each of `sources` that reported about the member, how many events it reported in
    all and its `latest` newest, newest first, with their kind and dispute. Two queries that
    bring back only those rows however long the member's history: a count by source, and the
    events ranked within their source by a window function, joined once they are picked."""
    of_sources = ScoreEvent.objects.filter(member=member, source__in=list(sources))
    reported = dict(of_sources.order_by().values_list("source").annotate(n=Count("id")))
    newest_first = [F("occurred_at").desc(), F("id").desc()]
    ranked = of_sources.annotate(
        place=Window(RowNumber(), partition_by=[F("source")], order_by=newest_first)
    ).filter(place__lte=latest)
    events = (
        ScoreEvent.objects.filter(pk__in=ranked.values("pk"))
        .order_by("source", *newest_first)
        .select_related("kind", "dispute")
    )
    found = {source: SourceReports(reported=n, latest=[]) for source, n in reported.items()}
    for event in events:  # one recorded between the two queries is shown, not yet counted
        found.setdefault(event.source, SourceReports(reported=0, latest=[])).latest.append(event)
    return found


def member_event_rows(*, member: Member, events: list[ScoreEvent], locale: str) -> list[MemberEvent]:
    """`events` of the member (member_events) with the merchant's name and the kind's label
    in the member's language, where each stands, and whether it can be disputed."""
    names = merchant_names_of_member(pairs=[(member.pk, event.source) for event in events])
    rows = []
    zh = locale.startswith("zh")
    for event in events:
        status = event_status(event)
        dispute = getattr(event, "dispute", None)
        merchant_event = event.source != PLATFORM_SOURCE
        rows.append(
            MemberEvent(
                event=event,
                merchant_name=names[(member.pk, event.source)],
                kind_label=event.kind.label_zh if zh and event.kind.label_zh else event.kind.label,
                status=status,
                status_label=str(status.label),
                dispute=dispute,
                can_dispute=merchant_event and status == EventStatus.COUNTED and dispute is None,
            )
        )
    return rows


def member_disputes(*, member: Member) -> QuerySet[Dispute]:
    return Dispute.objects.filter(member=member).select_related("event").order_by("-opened_at", "-id")


def event_of_merchant(*, merchant_ref: str, external_id: str) -> ScoreEvent:
    """One of the merchant's events by its own id; another merchant's is not found."""
    event = (
        ScoreEvent.objects.filter(source=merchant_ref, external_id=external_id)
        .select_related("member", "dispute")
        .first()
    )
    if event is None:
        raise ScoreEventNotFound(param="id")
    return event
