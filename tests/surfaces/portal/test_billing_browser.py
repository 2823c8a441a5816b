"""An owner whose billing is paused for an unpaid invoice saves a new card on the billing
page in a real browser, through localstripe's Stripe.js: the invoice is paid, the card is
on file, and the pause banner is gone."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from perks.billing.models import Invoice, InvoiceStatus
from perks.billing.selectors import billing_paused
from perks.billing.services import billing_card_save, billing_card_setup, dunning_due
from perks.merchants.permissions import Role
from tests.factories import StaffFactory, UserFactory
from tests.support.billing import connected
from tests.support.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"
TIMEOUT_MS = 15_000
DECLINES_CHARGES = "4000000000000341"  # saves, then every charge to it is declined


def test_an_owner_saves_a_card_that_pays_and_the_pause_lifts(browser_page: Page, live_server, stripe_on):
    owner = StaffFactory.create(role=Role.OWNER, user=UserFactory.create(email="boss@example.test"))
    merchant = owner.merchant
    connected(merchant)
    secret = billing_card_setup(merchant=merchant, actor=owner.user)
    stripe_on.card_setup_confirm(secret, number=DECLINES_CHARGES)
    billing_card_save(merchant=merchant, actor=owner.user, setup_intent_id=secret.split("_secret_")[0])
    invoice = Invoice.objects.get(merchant=merchant, status=InvoiceStatus.OPEN)
    Invoice.objects.filter(pk=invoice.pk).update(
        issued_at=timezone.now() - timedelta(days=settings.BILLING_GRACE_DAYS + 1)
    )
    assert dunning_due() == 1
    page = browser_page

    sign_in(page, f"{live_server.url}/portal/login/", "boss@example.test", PASSWORD)
    expect(page.get_by_text("New vouchers are paused")).to_be_visible()
    page.get_by_role("link", name="Pay it on the billing page").click()
    expect(page.get_by_text("ending in 0341")).to_be_visible()
    for field, value in (("number", "4242424242424242"), ("exp_month", "12"), ("exp_year", "34")):
        page.get_by_placeholder(field, exact=True).fill(value)
    page.get_by_placeholder("cvc", exact=True).fill("123")
    page.get_by_role("button", name="Replace the card").click()

    expect(page.get_by_text("The card is saved")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("Visa ending in 4242, expires 12/2034")).to_be_visible()
    expect(page.get_by_text("New vouchers are paused")).to_have_count(0)
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    assert not billing_paused(merchant)
