"""Whether a member may have a perk now: one answer for claims, issues, redemptions and /benefits.

The order of the checks is the order a member would fix them in: the perk must be on
offer, the member must meet its minimum, and no hold of the merchant's may suspend it.
A hold is only ever the perk's own merchant's: holds are never shared between merchants.
"""

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from loyalty.core.errors import Refused
from loyalty.members.models import Member
from loyalty.scoring.models import MemberStanding, Tier
from loyalty.scoring.selectors import Standing, hold_held_until, hold_recent, holds_suspending, standing_of
from perks.catalog.errors import MemberNotEligible, MemberOnHold, PerkInactive
from perks.catalog.models import Perk
from perks.catalog.rules import perk_admits_standing, perk_is_live


def perk_refusal(
    *, perk: Perk, member: Member, standing: Standing | None = None, at: datetime | None = None
) -> Refused | None:
    """The reason `member` may not have `perk` at `at` (now), or None when they may.

    Pass `standing` when checking many perks for one member, to read it once. Holds are
    read as they stand now, in one question: until when the merchant last held the member.
    """
    at = at or timezone.now()
    if not perk_is_live(perk=perk, at=at):
        return PerkInactive()
    standing = standing or standing_of(member=member)
    if not perk_admits_standing(perk=perk, score=standing.score, tier=standing.tier):
        return MemberNotEligible()
    now = timezone.now()
    held_until = hold_held_until(member=member, merchant_ref=perk.merchant.ref, category=perk.type, at=now)
    if hold_recent(held_until, days=0, now=now):
        return MemberOnHold()
    if perk.hold_free_days and hold_recent(held_until, days=perk.hold_free_days, now=now):
        return MemberOnHold(
            f"This perk needs {perk.hold_free_days} days without a hold on the member's account."
        )
    return None


def perk_eligibility_require(
    *, perk: Perk, member: Member, standing: Standing | None = None, at: datetime | None = None
) -> None:
    """Raise the reason `member` may not have `perk` now, if there is one."""
    refusal = perk_refusal(perk=perk, member=member, standing=standing, at=at)
    if refusal is not None:
        raise refusal


@dataclass(frozen=True)
class TierCount:
    tier: Tier
    members: int


@dataclass(frozen=True)
class Qualifying:
    """How many members the perk admits now, by tier, and how many more it would were they
    not held; never who they are. The standings are as they were at `standings_at`."""

    by_tier: list[TierCount]
    held: int
    standings_at: datetime

    @property
    def total(self) -> int:
        return sum(row.members for row in self.by_tier)


# Every member's (tier, score), counted: the same for every perk, and read at most this often.
STANDINGS_COUNT_KEY = "catalog:standings-by-tier-and-score"
STANDINGS_COUNT_SECONDS = 300

# (tier id, score, members)
StandingGroups = list[tuple[int, int, int]]


def perk_qualifying_count(*, perk: Perk) -> Qualifying:
    """The members `perk_refusal` would let have `perk`, counted by tier, as if it were on
    offer (a draft or a paused perk counts whom it would admit).

    The rules are not rewritten in SQL: members are grouped by (tier, score), at most a few
    thousand groups whatever their number, and `perk_admits_standing` judges each group.
    Those groups cost one pass over every standing, so they are shared by every perk and
    kept for STANDINGS_COUNT_SECONDS (docs/performance.md); the members the merchant holds
    (`holds_suspending`, the set-based form of the per-member hold check) are few, and read
    afresh each time, so a hold just placed counts at once.
    """
    tiers = list(Tier.objects.order_by("rank"))
    groups, standings_at = _standings_counted({tier.pk for tier in tiers})
    everyone = _admitted_by_tier(perk, groups, tiers)
    on_hold = _admitted_by_tier(perk, _groups(_held_standings(perk)), tiers)
    return Qualifying(
        by_tier=[
            TierCount(tier, max(0, everyone.get(tier.pk, 0) - on_hold.get(tier.pk, 0))) for tier in tiers
        ],
        held=sum(on_hold.values()),
        standings_at=standings_at,
    )


def _standings_counted(tier_ids: set[int]) -> tuple[StandingGroups, datetime]:
    """The groups as kept, or counted afresh when none are, or when they name a tier that
    is no more (the operator replaced the bands since)."""
    cached = cache.get(STANDINGS_COUNT_KEY)
    if cached is None or not {tier_id for tier_id, _score, _members in cached[0]} <= tier_ids:
        standings = MemberStanding.objects.all()
        # Every standing read bare, less the few of erased members: joining every standing
        # to its member would cost more than the two.
        erased = {(t, s): n for t, s, n in _groups(standings.filter(member__erased_at__isnull=False))}
        groups = [(t, s, n - erased.get((t, s), 0)) for t, s, n in _groups(standings)]
        cached = (groups, timezone.now())
        cache.set(STANDINGS_COUNT_KEY, cached, STANDINGS_COUNT_SECONDS)
    return cached


def _held_standings(perk: Perk) -> QuerySet[MemberStanding]:
    """The standings of members a hold of the perk's merchant keeps from it now."""
    merchant_ref = perk.merchant.ref
    holds = holds_suspending(merchant_ref=merchant_ref, category=perk.type)
    if perk.hold_free_days:
        # One set of holds, not two questions: a planner then reaches the few standings by key.
        holds |= holds_suspending(
            merchant_ref=merchant_ref, category=perk.type, hold_free_days=perk.hold_free_days
        )
    held = Q(member_id__in=holds.values("member_id"))
    return MemberStanding.objects.filter(held, member__erased_at__isnull=True)


def _groups(standings: QuerySet[MemberStanding]) -> StandingGroups:
    counted = standings.order_by().values_list("tier_id", "score").annotate(members=Count("pk"))
    return [(tier_id, score, members) for tier_id, score, members in counted]


def _admitted_by_tier(perk: Perk, groups: StandingGroups, tiers: list[Tier]) -> dict[int, int]:
    """Of the groups, how many members per tier id the perk's minimum admits."""
    by_id = {tier.pk: tier for tier in tiers}
    counts: dict[int, int] = {}
    for tier_id, score, members in groups:
        if perk_admits_standing(perk=perk, score=score, tier=by_id[tier_id]):
            counts[tier_id] = counts.get(tier_id, 0) + members
    return counts
