"""The portal's billing page, role by role: owners and managers see the month's usage and
fees, the invoices and the card on file, and change the card with Stripe.js; cashiers may
not; nobody sees another merchant's. While billing is paused every page says so."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from perks.billing.models import Invoice, InvoiceStatus
from perks.billing.services import redemption_fee_set
from perks.catalog.models import PerkType
from perks.merchants.permissions import Role
from perks.vouchers.services import redemption_side_effects_apply, voucher_issue, voucher_redeem
from tests.factories import JoinedMemberFactory, MerchantFactory, PerkFactory, StaffFactory
from tests.support.billing import connected, paused, plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant(db):
    return MerchantFactory.create(name="Blue Kettle Coffee")


def signed_in_as(client, merchant, role):
    staff = StaffFactory.create(merchant=merchant, role=role)
    client.force_login(staff.user)
    return staff.user


def billing_page(client, merchant):
    return client.get(reverse("portal:billing", args=[merchant.slug]))


def redeemed(merchant, owner, count):
    """`count` coffees redeemed this month, with their usage rows written."""
    perk = PerkFactory.create(merchant=merchant)
    for _ in range(count):
        voucher = voucher_issue(perk=perk, member=JoinedMemberFactory.create(), actor=owner)
        redemption_side_effects_apply(
            redemption_id=voucher_redeem(merchant=merchant, actor=owner, code=voucher.code).pk
        )


@pytest.mark.parametrize("role", [Role.OWNER, Role.MANAGER])
def test_owners_and_managers_see_the_months_usage_fees_and_invoices(client, merchant, role):
    user = signed_in_as(client, merchant, role)
    connected(merchant)
    redemption_fee_set(plan=plan(), perk_type=PerkType.FREE_ITEM, amount="0.50")
    redeemed(merchant, user, 3)
    Invoice.objects.create(
        merchant=merchant,
        stripe_id="in_last_month",
        currency="CNY",
        amount_due="100.50",
        amount_paid="100.50",
        status=InvoiceStatus.PAID,
        paid_at=timezone.now(),
        issued_at=timezone.now() - timedelta(days=20),
    )

    response = billing_page(client, merchant)

    assert response.status_code == 200
    shown = response.content.decode()
    assert "Free item" in shown
    assert re.search(r"<td class=\"num\">3</td>\s*<td class=\"num\">0.50</td>", shown)
    assert "1.50 CNY" in shown  # the fees so far
    assert "99.00 CNY a month" in shown
    assert re.search(r"<td>Paid</td>\s*<td class=\"num\">100.50 CNY</td>", shown)
    assert "Card payments are not configured" in shown  # Stripe off: no card form
    assert "js.stripe.com" not in shown


def test_cashiers_may_not_see_billing_nor_find_it_in_the_nav(client, merchant):
    signed_in_as(client, merchant, Role.CASHIER)
    connected(merchant)

    assert billing_page(client, merchant).status_code == 403
    assert client.post(reverse("portal:billing-card-setup", args=[merchant.slug])).status_code == 403
    nav = client.get(reverse("portal:counter", args=[merchant.slug])).content.decode()
    assert reverse("portal:billing", args=[merchant.slug]) not in nav


def test_another_merchants_billing_is_not_found(client, merchant):
    signed_in_as(client, merchant, Role.OWNER)
    other = MerchantFactory.create()

    assert billing_page(client, other).status_code == 404


def test_a_merchant_not_set_up_yet_is_told_so(client, merchant):
    signed_in_as(client, merchant, Role.OWNER)

    assert "Your billing is not set up yet" in billing_page(client, merchant).content.decode()


def test_the_owner_saves_a_card_with_stripe_js_and_sees_it_on_file(stripe_on, client, merchant):
    signed_in_as(client, merchant, Role.OWNER)
    profile = connected(merchant)
    shown = billing_page(client, merchant).content.decode()
    assert f'<script src="{stripe_on.url}/js.stripe.com/v3/"></script>' in shown
    assert "No card on file" in shown
    found = re.search(r"<form[^>]*data-card-form[^>]*>", shown)
    assert found is not None
    form = found.group(0)
    assert reverse("portal:billing-card-setup", args=[merchant.slug]) in form

    secret = client.post(reverse("portal:billing-card-setup", args=[merchant.slug])).json()["client_secret"]
    saved = stripe_on.card_setup_confirm(secret)  # Stripe.js's confirmCardSetup
    response = client.post(
        reverse("portal:billing-card-save", args=[merchant.slug]), {"setup_intent": saved["id"]}
    )

    assert response.json() == {"status": "saved"}
    shown = billing_page(client, merchant).content.decode()
    assert "Visa ending in 4242, expires 12/2034" in shown
    assert "The card is saved" in shown
    profile.refresh_from_db()
    assert profile.stripe_subscription_id  # subscribed with its first card


def test_saving_a_card_that_was_not_confirmed_is_refused_with_a_reason(stripe_on, client, merchant):
    signed_in_as(client, merchant, Role.OWNER)
    connected(merchant)
    secret = client.post(reverse("portal:billing-card-setup", args=[merchant.slug])).json()["client_secret"]

    response = client.post(
        reverse("portal:billing-card-save", args=[merchant.slug]),
        {"setup_intent": secret.split("_secret_")[0]},
    )

    assert response.status_code == 422
    assert "complete the card form first" in response.json()["error"]


@pytest.mark.parametrize("page", ["portal:dashboard", "portal:counter", "portal:campaigns", "portal:audit"])
def test_every_page_says_while_billing_is_paused(client, merchant, page):
    signed_in_as(client, merchant, Role.CASHIER)
    connected(merchant)
    url = reverse(page, args=[merchant.slug])
    assert "data-billing-paused" not in client.get(url).content.decode()

    paused(merchant)
    shown = client.get(url).content.decode()

    assert "data-billing-paused" in shown
    assert "New vouchers are paused" in shown
    assert "Ask an owner or a manager to pay it." in shown


def test_the_pause_banner_leads_owners_to_the_billing_page(client, merchant):
    signed_in_as(client, merchant, Role.OWNER)
    paused(merchant)

    shown = billing_page(client, merchant).content.decode()

    assert "Pay it on the billing page" in shown
