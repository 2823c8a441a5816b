"""Billing and deposits set up as merchants and members make them, for the tests of the
surfaces.

A merchant that holds card deposits has a billing profile with a connected account; a
member saves a card the way Stripe.js does it (through localstripe, `tests.support.stripe`);
a waiver is a `deposit_waiver` voucher the merchant gave the member. The Stripe helpers need
the settings pointed at localstripe first (the `stripe_on` fixture).
"""

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from loyalty.members.models import Member
from perks.billing.models import BillingProfile, BillingStatus, Deposit, DepositStatus, PlanPrice
from perks.billing.services import billing_profile_create, deposit_create, deposit_refresh, plan_price_create
from perks.catalog.models import PerkType
from perks.merchants.models import Merchant
from perks.merchants.permissions import Role
from perks.vouchers.models import Voucher
from perks.vouchers.services import voucher_issue
from tests.factories import JoinedMemberFactory, PerkFactory, StaffFactory
from tests.support.links import linked
from tests.support.stripe import LocalStripe

CARD = "4242424242424242"
CARD_3DS = "4000002500003155"  # asks for 3-D Secure on every payment


def account_of(merchant: Merchant) -> str:
    """The merchant's connected Stripe account, one per merchant."""
    return f"acct_{merchant.ref.removeprefix('mch_')}"


def plan() -> PlanPrice:
    return PlanPrice.objects.filter(is_default=True).first() or plan_price_create(
        name="Standard", currency="CNY", monthly_fee="99.00", is_default=True
    )


def connected(merchant: Merchant) -> BillingProfile:
    """The merchant with a billing profile and its connected account: it can hold deposits."""
    plan()
    return BillingProfile.objects.filter(merchant=merchant).first() or billing_profile_create(
        merchant=merchant, actor=None, stripe_account=account_of(merchant)
    )


def paused(merchant: Merchant) -> BillingProfile:
    """The merchant's billing paused, as dunning leaves it after an invoice unpaid past its
    grace period (the notices and webhooks of the pause are dunning's own tests')."""
    profile = connected(merchant)
    BillingProfile.objects.filter(pk=profile.pk).update(
        status=BillingStatus.PAUSED_BILLING, paused_at=timezone.now()
    )
    return profile


def linked_member(merchant: Merchant) -> Member:
    member = JoinedMemberFactory.create()
    linked(member, merchant)
    return member


def waiver(merchant: Merchant, member: Member, max_amount: str = "500.00") -> Voucher:
    """A single-use deposit waiver of `max_amount` CNY the merchant gave `member`."""
    perk = PerkFactory.create(
        merchant=merchant,
        type=PerkType.DEPOSIT_WAIVER,
        params={"max_amount": max_amount, "currency": "CNY"},
        title=f"No deposit up to {max_amount}",
    )
    return voucher_issue(perk=perk, member=member, actor=_owner(merchant))


def deposit_asked(merchant: Merchant, member: Member | None = None, amount: str = "300.00") -> Deposit:
    """A deposit asked of `member` (Stripe on, the merchant connected): waiting for a card
    unless the member has one saved for this merchant."""
    connected(merchant)
    return deposit_create(
        merchant=merchant,
        actor=_owner(merchant),
        member=member or linked_member(merchant),
        amount=amount,
        currency="CNY",
    )


def deposit_held(merchant: Merchant, member: Member | None = None, amount: str = "300.00") -> Deposit:
    """A deposit held on the member's card: saved in the browser for it, if none was yet."""
    deposit = deposit_asked(merchant, member, amount)
    if deposit.status == DepositStatus.REQUIRES_PAYMENT_METHOD:
        LocalStripe(url=settings.STRIPE_API_BASE).card_setup_confirm(deposit.client_secret, number=CARD)
        deposit = deposit_refresh(deposit=deposit)
    assert deposit.status == DepositStatus.HELD
    return deposit


def deposit_waived(merchant: Merchant) -> Deposit:
    """A deposit the member's waiver waived (Stripe plays no part)."""
    member = linked_member(merchant)
    waiver(merchant, member)
    deposit = deposit_create(
        merchant=merchant, actor=_owner(merchant), member=member, amount="300.00", currency="CNY"
    )
    assert deposit.status == DepositStatus.WAIVED
    return deposit


def _owner(merchant: Merchant) -> User:
    staff = merchant.staff.filter(role=Role.OWNER).select_related("user").first()
    return staff.user if staff else StaffFactory.create(merchant=merchant, role=Role.OWNER).user
