"""Plans and billing profiles: edited through the services, usable with Stripe off."""

from decimal import Decimal

import pytest

from loyalty.core.errors import Conflict, Invalid
from perks.billing.models import BillingProfile, PlanPrice
from perks.billing.selectors import billing_paused
from perks.billing.services import (
    billing_account_set,
    billing_card_setup,
    billing_profile_create,
    plan_price_create,
    plan_price_update,
)
from tests.support.stripe import PUBLISHABLE_KEY, SECRET_KEY

pytestmark = pytest.mark.django_db


def test_one_plan_is_the_default_and_a_new_fee_asks_stripe_for_a_new_price(plan):
    PlanPrice.objects.filter(pk=plan.pk).update(stripe_plan_id="plan_old")
    premium = plan_price_create(name="Premium", currency="CNY", monthly_fee="299.00", is_default=True)

    assert list(PlanPrice.objects.filter(is_default=True)) == [premium]
    plan = plan_price_update(plan=plan, name="Standard 2026")
    assert plan.stripe_plan_id == "plan_old"
    plan = plan_price_update(plan=plan, monthly_fee="109.00")
    assert (plan.monthly_fee, plan.stripe_plan_id) == (Decimal("109.00"), "")
    with pytest.raises(Invalid):
        plan_price_update(plan=plan, monthly_fee="1.001")


def test_a_profile_made_with_stripe_off_becomes_a_customer_once_stripe_is_on(
    merchant, owner, plan, localstripe, settings
):
    profile = billing_profile_create(merchant=merchant, actor=owner)

    assert (profile.plan, profile.stripe_customer_id, billing_paused(merchant)) == (plan, "", False)
    with pytest.raises(Conflict):
        billing_profile_create(merchant=merchant, actor=owner)
    billing_account_set(merchant=merchant, actor=owner, stripe_account="acct_1Later")
    with pytest.raises(Invalid):
        billing_account_set(merchant=merchant, actor=owner, stripe_account="not-an-account")

    settings.STRIPE_SECRET_KEY, settings.STRIPE_PUBLISHABLE_KEY = SECRET_KEY, PUBLISHABLE_KEY
    settings.STRIPE_API_BASE = localstripe.url
    secret = billing_card_setup(merchant=merchant, actor=owner)

    profile = BillingProfile.objects.get(merchant=merchant)
    assert profile.stripe_account == "acct_1Later"
    setup = localstripe.get(f"/v1/setup_intents/{secret.split('_secret_')[0]}")
    assert setup["customer"] == profile.stripe_customer_id != ""
    customer = localstripe.get(f"/v1/customers/{profile.stripe_customer_id}")
    assert (customer["email"], customer["metadata"]) == (owner.email, {"perkline_merchant": merchant.ref})


def test_there_is_no_profile_without_a_plan(merchant, owner):
    with pytest.raises(Invalid) as refused:
        billing_profile_create(merchant=merchant, actor=owner)
    assert refused.value.param == "plan"


@pytest.mark.parametrize(
    "page",
    [
        "planprice/",
        "planprice/add/",
        "redemptionfee/",
        "redemptionfee/add/",
        "billingprofile/",
        "invoice/",
        "invoicerun/",
        "deposit/",
        "stripeevent/",
    ],
)
def test_the_console_shows_billing(admin_client, plan, page):
    assert admin_client.get(f"/admin/billing/{page}").status_code == 200


def test_the_operator_sets_a_fee_through_the_service(admin_client, plan):
    response = admin_client.post(
        "/admin/billing/redemptionfee/add/", {"plan": plan.pk, "perk_type": "discount", "amount": "0.25"}
    )

    assert response.status_code == 302
    assert plan.redemption_fees.get(perk_type="discount").amount == Decimal("0.25")
