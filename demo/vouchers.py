"""Demo vouchers in every state, made through the voucher services at the times they would
have happened: issued, a lounge pass partly used, redeemed, expired, revoked, one reserved.

Each goes to the best-scoring demo member the perk admits, as its merchant would choose.
"""

from datetime import timedelta

import time_machine
from django.contrib.auth.models import User
from django.utils import timezone

from loyalty.members.models import Member
from perks.catalog.eligibility import perk_refusal
from perks.catalog.models import Perk
from perks.merchants.models import Merchant, Staff
from perks.merchants.permissions import Role
from perks.vouchers.models import RedemptionChannel, Voucher
from perks.vouchers.services import (
    redemption_side_effects_apply,
    reservation_create,
    voucher_issue,
    voucher_redeem,
    voucher_revoke,
    vouchers_expire_due,
)

# Long enough ago that a 30-day voucher issued then has expired by now.
EXPIRED_ISSUE_DAYS_AGO = 40


def seed_vouchers() -> None:
    _issued("hotel")
    _redeemed("lounge", times=2)  # a 4-entry pass with 2 left
    _redeemed("car_rental", times=1, amount="8000.00", currency="CNY")
    _redeemed("fx", times=1, amount="1000.00", currency="USD")
    _expired("fx")
    _revoked("hotel", reason="Issued to the wrong guest; reissued on the right booking.")
    _reserved("rail")


def _issued(category: str) -> Voucher:
    perk = _perk(category)
    return voucher_issue(perk=perk, member=_member_for(perk), actor=_staff(perk.merchant, Role.MANAGER))


def _redeemed(category: str, *, times: int, amount: str | None = None, currency: str | None = None) -> None:
    voucher = _issued(category)
    merchant = voucher.perk.merchant
    location = merchant.locations.order_by("pk").first()
    for _ in range(times):
        redemption = voucher_redeem(
            merchant=merchant,
            actor=_staff(merchant, Role.CASHIER),
            code=voucher.code,
            location_code=location.code if location else None,
            amount=amount,
            currency=currency,
            channel=RedemptionChannel.PORTAL,
        )
        # Done here so the demo shows usage at once; the task enqueued on commit finds it done.
        redemption_side_effects_apply(redemption_id=redemption.pk)


def _expired(category: str) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=EXPIRED_ISSUE_DAYS_AGO)):
        _issued(category)
    vouchers_expire_due()


def _revoked(category: str, *, reason: str) -> None:
    voucher = _issued(category)
    voucher_revoke(voucher=voucher, actor=_staff(voucher.perk.merchant, Role.MANAGER), reason=reason)


def _reserved(category: str) -> None:
    voucher = _issued(category)
    merchant = voucher.perk.merchant
    reservation_create(
        merchant=merchant, actor=_staff(merchant, Role.CASHIER), code=voucher.code, ttl_seconds=3600
    )


def _perk(category: str) -> Perk:
    return Perk.objects.select_related("merchant", "min_tier").get(merchant__category=category)


def _staff(merchant: Merchant, role: str) -> User:
    return Staff.objects.select_related("user").get(merchant=merchant, role=role).user


def _member_for(perk: Perk) -> Member:
    members = Member.objects.filter(standing__isnull=False).order_by("-standing__score", "pk")
    for member in members:
        if perk_refusal(perk=perk, member=member) is None:
            return member
    raise LookupError(f"No demo member may have {perk.title!r}.")
