"""A voucher for one member: claimed by the member (paid in points) or given by the merchant.

Both go through `_issue`, under the member's claims lock: eligibility, the per-member limit
counted inside the lock, the perk's inventory by conditional UPDATE, and the voucher row,
in one transaction with whatever the caller adds (the points, the webhook).
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.members.models import LookupPurpose, Member
from loyalty.members.services import member_lookup_record, notification_add
from loyalty.points.errors import IdempotencyKeyReused
from loyalty.points.services import points_spend
from perks.billing.errors import MerchantBillingPaused
from perks.billing.selectors import billing_paused
from perks.catalog.eligibility import perk_eligibility_require
from perks.catalog.errors import LimitReached
from perks.catalog.models import Perk
from perks.catalog.rules import limit_window_start
from perks.catalog.services import perk_inventory_take
from perks.merchants.models import ApiKey
from perks.merchants.permissions import Permission
from perks.merchants.services import Actor, actor_require, audit_record, webhook_emit
from perks.vouchers.codes import code_format, code_generate
from perks.vouchers.locks import member_claims_lock
from perks.vouchers.models import CLAIM_KEY_MAX_LENGTH, Voucher, VoucherSource
from perks.vouchers.selectors import voucher_member_ref

ISSUE_SOURCES = (VoucherSource.MERCHANT, VoucherSource.AUTO)


def voucher_claim(*, perk: Perk, member: Member, idempotency_key: str) -> Voucher:
    """The member takes `perk` for themselves, paying its points; all or nothing.

    A replay of `idempotency_key` returns the voucher of the first claim and changes
    nothing; the same key for another perk is refused.
    """
    if not 0 < len(idempotency_key) <= CLAIM_KEY_MAX_LENGTH:
        raise Invalid("An idempotency key of 1 to 255 characters is required.", param="idempotency_key")
    if (claimed := _claimed(perk, member, idempotency_key)) is not None:
        return claimed
    with transaction.atomic():
        member_claims_lock(member.pk)
        # A concurrent claim with this key held the lock; it has committed by now.
        if (claimed := _claimed(perk, member, idempotency_key)) is not None:
            return claimed
        perk = _perk_current(perk.pk)
        voucher = _issue(perk=perk, member=member, source=VoucherSource.CLAIM, claim_key=idempotency_key)
        if perk.points_cost:
            spent = points_spend(
                member=member,
                points=perk.points_cost,
                idempotency_key=f"voucher-claim:{voucher.code}",
                reason_code="perk_claim",
                reason_params={"perk_title": f"{perk.title} at {perk.merchant.name}"},
                actor=f"member:{member.ref}",
                merchant_ref=perk.merchant.ref,
            )
            voucher.points_spent, voucher.points_transaction_id = perk.points_cost, spent.pk
            Voucher.objects.filter(pk=voucher.pk).update(
                points_spent=voucher.points_spent, points_transaction_id=spent.pk
            )
    return voucher


def voucher_issue(
    *, perk: Perk, member: Member, actor: Actor | None, source: str = VoucherSource.MERCHANT
) -> Voucher:
    """The merchant gives `member` a voucher of `perk`: the same rules as a claim, never points.

    `source=auto` is the platform issuing on a tier reached, where `actor` may be None.
    """
    if source not in ISSUE_SOURCES:
        raise Invalid(f"source is one of {', '.join(ISSUE_SOURCES)}.", param="source")
    if actor is not None or source != VoucherSource.AUTO:
        if actor is None:
            raise Invalid("Say who issues the voucher.", param="actor")
        actor_require(actor=actor, merchant=perk.merchant, permission=Permission.VOUCHERS_ISSUE)
    with transaction.atomic():
        member_claims_lock(member.pk)
        perk = _perk_current(perk.pk)
        voucher = _issue(perk=perk, member=member, source=source)
        if actor is not None:
            audit_record(merchant=perk.merchant, actor=actor, action="voucher.issued", target=voucher.code)
        if isinstance(actor, ApiKey):
            member_lookup_record(
                member=member,
                merchant_ref=perk.merchant.ref,
                merchant_name=perk.merchant.name,
                purpose=LookupPurpose.VOUCHER,
            )
        webhook_emit(merchant=perk.merchant, type="voucher.issued", data=voucher_event_data(voucher))
        notification_add(
            member=member,
            kind="voucher_issued",
            dedupe_key=f"voucher_issued:{voucher.code}",
            params={
                "perk": perk.title,
                "perk_zh": perk.title_zh,
                "merchant": perk.merchant.name,
                "code": code_format(voucher.code),
            },
        )
    return voucher


def voucher_event_data(voucher: Voucher) -> dict[str, object]:
    """What a partner's webhook says about a voucher: refs and codes, nothing more of the
    member, and their ref only when they have a link with the merchant (a voucher a tier
    reached gave them does not introduce them)."""
    return {
        "code": code_format(voucher.code),
        "perk": voucher.perk.ref,
        "member": voucher_member_ref(voucher=voucher),
        "status": voucher.status,
        "source": voucher.source,
        "uses_allowed": voucher.uses_allowed,
        "uses_remaining": voucher.uses_remaining,
        "issued_at": voucher.issued_at,
        "expires_at": voucher.expires_at,
    }


def _claimed(perk: Perk, member: Member, key: str) -> Voucher | None:
    voucher = Voucher.objects.select_related("perk", "member").filter(member=member, claim_key=key).first()
    if voucher is not None and voucher.perk_id != perk.pk:
        raise IdempotencyKeyReused(param="idempotency_key")
    return voucher


def _perk_current(perk_id: int) -> Perk:
    """The perk as it is now: the rules read are the ones in force, whatever the caller holds."""
    return Perk.objects.select_related("merchant", "min_tier").get(pk=perk_id)


def _issue(*, perk: Perk, member: Member, source: str, claim_key: str = "") -> Voucher:
    """Call under `member_claims_lock`: the limit is counted inside it."""
    if billing_paused(perk.merchant):
        raise MerchantBillingPaused()
    now = timezone.now()
    perk_eligibility_require(perk=perk, member=member, at=now)
    _limit_require(perk, member, now)
    perk_inventory_take(perk_id=perk.pk)
    expires_at = now + timedelta(days=perk.voucher_ttl_days)
    if perk.valid_until is not None:
        expires_at = min(expires_at, perk.valid_until)
    return Voucher.objects.create(
        code=code_generate(),
        perk=perk,
        merchant_id=perk.merchant_id,
        member=member,
        source=source,
        uses_allowed=perk.uses_per_voucher,
        claim_key=claim_key,
        issued_at=now,
        valid_from=now,
        expires_at=expires_at,
        status_changed_at=now,
    )


def _limit_require(perk: Perk, member: Member, at: datetime) -> None:
    if perk.per_member_limit is None:
        return
    held = Voucher.objects.filter(perk=perk, member=member)
    since = limit_window_start(period=perk.limit_period, at=at)
    if since is not None:
        held = held.filter(issued_at__gte=since)
    if held.count() >= perk.per_member_limit:
        raise LimitReached()
