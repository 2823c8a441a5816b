"""Whether a member may have a perk now: one answer for claims, issues, redemptions and /benefits.

The order of the checks is the order a member would fix them in: the perk must be on
offer, the member must meet its minimum, and no hold of the merchant's may suspend it.
A hold is only ever the perk's own merchant's: holds are never shared between merchants.
"""

from datetime import datetime

from django.utils import timezone

from loyalty.core.errors import Refused
from loyalty.members.models import Member
from loyalty.scoring.selectors import Standing, hold_held_until, hold_recent, standing_of
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
