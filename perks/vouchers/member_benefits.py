"""What a merchant's perks give one member now: the answer of `POST /benefits`.

Each of the merchant's live perks the member is eligible for (the same check as claims and
redemptions, with the member's standing read once), with its benefit computed for the
purchase the partner describes, and the member's best usable voucher of it, if any.

An amount in another currency than a perk's is not converted (Perkline does not know the
merchant's rate) and does not refuse the whole call, since the other perks still answer:
such a perk is listed with `applies: false` and its computed values left out (null), so a
POS shows it without a number it could misread as a discount in the wrong currency.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.members.models import Member
from loyalty.scoring.models import Tier
from loyalty.scoring.selectors import standing_of
from perks.catalog.eligibility import perk_refusal
from perks.catalog.models import Perk, PerkType
from perks.catalog.money import purchase_parse
from perks.catalog.perk_benefit import benefit_compute
from perks.catalog.selectors import perks_live_of_merchant
from perks.merchants.models import Merchant
from perks.vouchers.models import Voucher, VoucherStatus

# The value /benefits computes for each type (docs/integration.md), null when it does not apply.
VALUE_OF_TYPE: dict[str, str] = {
    PerkType.DEPOSIT_WAIVER: "waived_amount",
    PerkType.FX_MARGIN: "margin_reduction_bps",
    PerkType.ACCESS_PASS: "entries_remaining",
    PerkType.DISCOUNT: "discount_amount",
}


@dataclass(frozen=True)
class PerkBenefit:
    perk: Perk
    applies: bool  # False: the purchase's currency is not the perk's; no value computed
    benefit: dict[str, Any]
    voucher: Voucher | None  # the member's best usable voucher of the perk


@dataclass(frozen=True)
class MemberBenefits:
    member: Member
    tier: Tier
    benefits: list[PerkBenefit]


def benefits_of_member(
    *, merchant: Merchant, member: Member, amount: Decimal | str | None = None, currency: str | None = None
) -> MemberBenefits:
    """`member`'s benefits at `merchant` now, for a purchase of `amount` in `currency` (optional)."""
    amount, currency = purchase_parse(amount, currency)
    now = timezone.now()
    standing = standing_of(member=member)
    perks = [
        perk
        for perk in perks_live_of_merchant(merchant=merchant).order_by("-created_at", "-pk")
        if perk_refusal(perk=perk, member=member, standing=standing, at=now) is None
    ]
    vouchers = _best_vouchers(member=member, perks=perks, now=now)
    benefits = [
        _perk_benefit(perk, vouchers.get(perk.pk), amount=amount, currency=currency) for perk in perks
    ]
    return MemberBenefits(member=member, tier=standing.tier, benefits=benefits)


def _perk_benefit(
    perk: Perk, voucher: Voucher | None, *, amount: Decimal | str | None, currency: str | None
) -> PerkBenefit:
    uses_remaining = _free_uses(voucher) if voucher is not None else None
    try:
        computed = benefit_compute(perk=perk, amount=amount, currency=currency, uses_remaining=uses_remaining)
        applies = True
    except Invalid as mismatch:
        if mismatch.param != "currency":
            raise
        computed = benefit_compute(perk=perk, uses_remaining=uses_remaining)
        applies = False
    benefit = computed.as_dict()
    value = VALUE_OF_TYPE.get(perk.type)
    if value is not None:
        benefit[value] = benefit.get(value) if applies else None
    return PerkBenefit(perk=perk, applies=applies, benefit=benefit, voucher=voucher)


def _best_vouchers(*, member: Member, perks: list[Perk], now: datetime) -> dict[int, Voucher]:
    """Per perk, the member's usable voucher with the most uses left (the soonest to expire
    among equals): what the POS would redeem. One query for every perk."""
    usable = Voucher.objects.filter(
        member=member,
        perk__in=perks,
        status=VoucherStatus.ISSUED,
        valid_from__lte=now,
        expires_at__gt=now,
    ).order_by("expires_at", "pk")
    best: dict[int, Voucher] = {}
    for voucher in usable:
        current = best.get(voucher.perk_id)
        if _free_uses(voucher) > (0 if current is None else _free_uses(current)):
            best[voucher.perk_id] = voucher
    return best


def _free_uses(voucher: Voucher) -> int:
    """Uses neither redeemed nor held by a reservation: what the member can still use."""
    return voucher.uses_allowed - voucher.uses_count - voucher.uses_reserved
