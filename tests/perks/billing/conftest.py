from decimal import Decimal

import pytest

from perks.billing.models import BillingProfile, MemberStripeCustomer
from perks.billing.services import billing_profile_create, plan_price_create, redemption_fee_set
from perks.catalog.models import PerkType
from perks.merchants.models import WebhookEvent
from perks.merchants.permissions import Scope
from perks.merchants.services import api_key_create
from perks.vouchers.services import voucher_issue
from tests.factories import JoinedMemberFactory, MerchantFactory, PerkFactory

CONNECTED_ACCOUNT = "acct_1PerklineRentals"


@pytest.fixture
def merchant(db):
    return MerchantFactory.create(name="Zoom Rentals")


@pytest.fixture
def key(merchant, owner):
    """A till's key that may take deposits, and nothing else."""
    return api_key_create(merchant=merchant, actor=owner, name="Desk", scopes=[Scope.DEPOSITS_WRITE]).key


@pytest.fixture
def member(db):
    return JoinedMemberFactory.create()


@pytest.fixture
def waiver_perk(merchant):
    return PerkFactory.create(
        merchant=merchant,
        type=PerkType.DEPOSIT_WAIVER,
        params={"max_amount": "500.00", "currency": "CNY"},
        title="No deposit up to 500",
    )


@pytest.fixture
def waiver(waiver_perk, member, owner):
    """A single-use deposit waiver of 500 CNY the merchant gave `member`."""
    return voucher_issue(perk=waiver_perk, member=member, actor=owner)


@pytest.fixture
def plan(db):
    plan = plan_price_create(name="Standard", currency="CNY", monthly_fee="99.00", is_default=True)
    redemption_fee_set(plan=plan, perk_type=PerkType.FREE_ITEM, amount="0.50")
    redemption_fee_set(plan=plan, perk_type=PerkType.DEPOSIT_WAIVER, amount="2.00")
    return plan


@pytest.fixture
def profile(stripe_on, merchant, owner, plan):
    """The merchant as a customer of the platform, with its connected account for deposits."""
    return billing_profile_create(merchant=merchant, actor=None, stripe_account=CONNECTED_ACCOUNT)


def customer_of(member, account=CONNECTED_ACCOUNT):
    return MemberStripeCustomer.objects.get(member=member, stripe_account=account).customer_id


def webhooks(merchant, type_prefix=""):
    """The types of the merchant's webhook events, oldest first."""
    events = WebhookEvent.objects.filter(merchant=merchant, type__startswith=type_prefix).order_by(
        "created_at", "id"
    )
    return list(events.values_list("type", flat=True))


def money(value):
    return Decimal(value)


def paused(merchant):
    return BillingProfile.objects.get(merchant=merchant).status == "paused_billing"
