"""Holds a merchant places on its own perks for a member, and lifts: the partner API and
the portal go through here, so both keep the same rules.

The hold itself is the loyalty side's (loyalty/scoring/services/holds.py). This side
decides who at the merchant may place and lift one, names the member only through a link
the member made with the merchant, keeps to the reasons a merchant may give, and records
each step in the merchant's audit trail.
"""

from datetime import datetime

from django.db import transaction

from loyalty.core.errors import Invalid
from loyalty.members.selectors import member_linked_by_ref
from loyalty.scoring.errors import AppealNotOpen, HoldNotFound
from loyalty.scoring.models import AppealStatus, Hold, HoldCategory, HoldReason
from loyalty.scoring.selectors import hold_appeal_latest
from loyalty.scoring.services import hold_lift, hold_place
from perks.merchants.models import Merchant
from perks.merchants.permissions import Permission
from perks.merchants.services.access import Actor, actor_require, audit_record

# The reasons the partner API's contract lets a merchant give (docs/integration.md).
MERCHANT_HOLD_REASONS = (
    HoldReason.UNRETURNED_RENTAL,
    HoldReason.UNPAID_BALANCE,
    HoldReason.DAMAGE_CLAIM,
    HoldReason.FRAUD_SUSPECTED,
)
# A hold suspends the merchant's perks of one type, or all of them when it names none.
HOLD_PERK_TYPES = tuple(category for category in HoldCategory.values if category != HoldCategory.ALL)


def merchant_hold_place(
    *,
    merchant: Merchant,
    actor: Actor,
    member_ref: str,
    reason_code: str,
    detail: str,
    expires_at: datetime,
    evidence: str = "",
    lift_on: str = "",
    obligation_ref: str = "",
    perk_type: str | None = None,
) -> Hold:
    """Hold the merchant's perks (of `perk_type` only, when given) from a member linked to
    it; a ref with no active link is not found, as one that names nobody."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.HOLDS_MANAGE)
    if reason_code not in MERCHANT_HOLD_REASONS:
        raise Invalid(f"reason_code is one of {', '.join(MERCHANT_HOLD_REASONS)}.", param="reason_code")
    if perk_type is not None and perk_type not in HOLD_PERK_TYPES:
        raise Invalid(f"perk_type is one of {', '.join(HOLD_PERK_TYPES)}.", param="perk_type")
    if not detail.strip():
        raise Invalid("Say what the matter is: the member reads it.", param="detail")
    member = member_linked_by_ref(ref=member_ref, merchant_ref=merchant.ref)
    with transaction.atomic():
        hold = hold_place(
            member=member,
            merchant_ref=merchant.ref,
            merchant_name=merchant.name,
            category=perk_type or HoldCategory.ALL,
            reason_code=reason_code,
            detail=detail,
            evidence=evidence,
            lift_on=lift_on,
            obligation_ref=obligation_ref,
            expires_at=expires_at,
        )
        audit_record(
            merchant=merchant,
            actor=actor,
            action="hold.placed",
            target=hold.ref,
            params={
                "member": member.ref,
                "reason_code": reason_code,
                "perk_type": perk_type,
                "expires_at": expires_at,
            },
        )
    return hold


def merchant_hold_lift(*, merchant: Merchant, actor: Actor, hold: Hold, note: str = "") -> Hold:
    """Lift one of the merchant's holds now, whether or not the member is still linked."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.HOLDS_MANAGE)
    with transaction.atomic():
        lifted = hold_lift(hold=hold, merchant_ref=merchant.ref, note=note)
        audit_record(merchant=merchant, actor=actor, action="hold.lifted", target=hold.ref)
    return lifted


def merchant_hold_appeal_decline(*, merchant: Merchant, actor: Actor, hold: Hold, reason: str) -> None:
    """The merchant stands by its hold against the member's open appeal, and says why in
    its audit trail. Deciding is the operators' (`hold_appeal_decide`): the hold stays, and
    the appeal stays open for them; to accept an appeal, the merchant lifts the hold."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.HOLDS_MANAGE)
    if hold.merchant_ref != merchant.ref:
        raise HoldNotFound
    reason = reason.strip()
    if not reason:
        raise Invalid("Say why the hold should stay: Perkline's operators read it.", param="reason")
    appeal = hold_appeal_latest(hold)
    if appeal is None or appeal.status != AppealStatus.OPEN:
        raise AppealNotOpen("The member has no appeal of this hold waiting for a decision.")
    audit_record(
        merchant=merchant,
        actor=actor,
        action="hold.appeal_declined",
        target=hold.ref,
        params={"reason": reason},
    )
