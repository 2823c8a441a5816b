"""Refusals about a perk, with the partner API's codes where it has one (docs/integration.md)."""

from loyalty.core.errors import Conflict, NotFound, Refused


class PerkNotFound(NotFound):
    default_message = "No such perk."


class PerkInactive(Refused):
    code = "perk_inactive"
    default_message = "This perk is not available right now."


class InventoryExhausted(Refused):
    code = "inventory_exhausted"
    default_message = "All vouchers of this perk have been given out."


class LimitReached(Refused):
    code = "limit_reached"
    default_message = "The member already has as many of this perk as it allows."


class MemberNotEligible(Refused):
    code = "member_not_eligible"
    default_message = "The member's tier or score does not qualify for this perk yet."


class MemberOnHold(Refused):
    code = "member_on_hold"
    default_message = "A hold on the member's account suspends this perk for now."


class PerkTransitionNotAllowed(Conflict):
    code = "perk_transition_not_allowed"


class PerkArchived(Conflict):
    code = "perk_archived"
    default_message = "This perk is archived and can no longer change."
