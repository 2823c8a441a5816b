"""Reads of billing that other code shares: the API, the portal, the app, and issuance."""

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from loyalty.members.models import Member
from perks.billing.errors import DepositNotFound
from perks.billing.models import BillingProfile, BillingStatus, Deposit, Invoice
from perks.catalog.models import PerkType
from perks.catalog.money import quantize
from perks.merchants.models import Merchant
from perks.vouchers.models import UsageRecord

PLATFORM_CURRENCY = "CNY"


def billing_paused(merchant: Merchant) -> bool:
    """Whether new vouchers of `merchant` are paused for an invoice unpaid past its grace."""
    return BillingProfile.objects.filter(merchant=merchant, status=BillingStatus.PAUSED_BILLING).exists()


def billing_profile_of(*, merchant: Merchant) -> BillingProfile | None:
    return BillingProfile.objects.select_related("plan").filter(merchant=merchant).first()


def merchant_currency(*, merchant: Merchant) -> str:
    """The merchant's default currency: the one its plan bills it in, else the yuan, the
    currency the platform is run in. What the counter takes amounts in unless told."""
    billed_in = BillingProfile.objects.filter(merchant=merchant).values_list("plan__currency", flat=True)
    return billed_in.first() or PLATFORM_CURRENCY


def deposits_of_merchant(*, merchant: Merchant) -> QuerySet[Deposit]:
    """Newest first, with what a deposit's answer names."""
    return (
        Deposit.objects.filter(merchant=merchant)
        .select_related("member", "waived_by", "location")
        .order_by("-created_at", "-id")
    )


def deposit_of_merchant(*, merchant: Merchant, ref: str) -> Deposit:
    """One of the merchant's deposits; another merchant's is not found, like none."""
    deposit = deposits_of_merchant(merchant=merchant).select_related("merchant").filter(ref=ref).first()
    if deposit is None:
        raise DepositNotFound(param="id")
    return deposit


def deposits_of_member(*, member: Member) -> QuerySet[Deposit]:
    """Newest first, with the merchant and the perk of the voucher that waived one."""
    return (
        Deposit.objects.filter(member=member)
        .select_related("merchant", "member", "waived_by__perk")
        .order_by("-created_at", "-id")
    )


def deposit_of_member(*, member: Member, ref: str) -> Deposit:
    """One of the member's own deposits; anyone else's is not found, like none."""
    deposit = deposits_of_member(member=member).filter(ref=ref).first()
    if deposit is None:
        raise DepositNotFound(param="id")
    return deposit


def invoices_of_merchant(*, merchant: Merchant) -> QuerySet[Invoice]:
    return Invoice.objects.filter(merchant=merchant).order_by("-issued_at", "-id")


@dataclass(frozen=True)
class UsageLine:
    perk_type: str
    label: str
    quantity: int
    unit_amount: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Usage:
    """A merchant's redemptions of a month so far and what its plan charges for them."""

    period: date
    currency: str
    monthly_fee: Decimal
    lines: list[UsageLine]

    @property
    def fees(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


def billing_usage_of(*, profile: BillingProfile, now: datetime | None = None) -> Usage:
    """The month so far, counted as its invoice will count it: redemptions net of their
    reversals, by perk type, at the plan's fee for each type."""
    today = timezone.localdate(now)
    period = today.replace(day=1)
    start = datetime.combine(period, time.min, tzinfo=timezone.get_current_timezone())
    totals = (
        UsageRecord.objects.filter(merchant_id=profile.merchant_id, redemption__created_at__gte=start)
        .values(perk_type=F("redemption__voucher__perk__type"))
        .annotate(quantity=Sum("quantity"))
        .order_by("perk_type")
    )
    plan = profile.plan
    fees = {fee.perk_type: fee.amount for fee in plan.redemption_fees.all()}
    lines = []
    for total in totals:
        fee = fees.get(total["perk_type"], Decimal(0))
        if total["quantity"]:
            lines.append(
                UsageLine(
                    perk_type=total["perk_type"],
                    label=str(PerkType(total["perk_type"]).label),
                    quantity=total["quantity"],
                    unit_amount=quantize(fee, plan.currency),
                    amount=quantize(fee * total["quantity"], plan.currency),
                )
            )
    monthly_fee = quantize(plan.monthly_fee, plan.currency)
    return Usage(period=period, currency=plan.currency, monthly_fee=monthly_fee, lines=lines)
