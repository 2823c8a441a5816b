"""Dunning against a real localstripe: an invoice unpaid past the grace period pauses the
merchant's new vouchers (webhook, email, audit), the vouchers members hold stay redeemable,
and paying resumes everything."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from config.celery import app
from perks.billing.models import BillingProfile, BillingStatus, Invoice, InvoiceStatus
from perks.billing.selectors import billing_paused
from perks.billing.services import dunning_due
from perks.merchants.models import AuditEntry, Merchant, MerchantStatus
from perks.vouchers.services import voucher_redeem
from tests.perks.billing.conftest import paused, webhooks
from tests.perks.billing.test_invoicing import card_saved

pytestmark = pytest.mark.django_db

DECLINES_CHARGES = "4000000000000341"  # saves, then every charge to it is declined


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a step as if it committed: the tasks it enqueued after commit (the notice emails)
    run then and there."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True

    def run(action, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return action(*args, **kwargs)

    yield run
    app.conf.task_always_eager = eager


def _overdue(invoice, days):
    Invoice.objects.filter(pk=invoice.pk).update(issued_at=timezone.now() - timedelta(days=days))


def test_an_unpaid_invoice_pauses_billing_after_the_grace_period_and_paying_resumes_it(
    stripe_on, profile, merchant, owner, member, waiver, settings, committed
):
    card_saved(stripe_on, merchant, owner, number=DECLINES_CHARGES)
    invoice = Invoice.objects.get(merchant=merchant)  # the subscription's first month
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.payment_failed_at is not None

    _overdue(invoice, settings.BILLING_GRACE_DAYS - 1)
    assert dunning_due() == 0
    assert not billing_paused(merchant)

    _overdue(invoice, settings.BILLING_GRACE_DAYS)
    assert committed(dunning_due) == 1
    assert committed(dunning_due) == 0

    assert billing_paused(merchant)
    assert paused(merchant)
    assert webhooks(merchant, "merchant.") == ["merchant.billing_paused"]
    assert AuditEntry.objects.filter(merchant=merchant, action="billing.paused", target=invoice.ref).exists()
    [notice] = mail.outbox
    assert notice.to == [owner.email]
    assert "paused" in notice.subject
    assert "99.00 CNY" in notice.body
    # Only new vouchers stop: the merchant trades on, and vouchers members hold still redeem.
    assert Merchant.objects.get(pk=merchant.pk).status == MerchantStatus.ACTIVE
    assert voucher_redeem(merchant=merchant, actor=owner, code=waiver.code, amount="10.00", currency="CNY")

    committed(card_saved, stripe_on, merchant, owner)  # a card that pays: the open invoice is paid again

    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, invoice.amount_due)
    assert not billing_paused(merchant)
    assert BillingProfile.objects.get(merchant=merchant).status == BillingStatus.ACTIVE
    assert webhooks(merchant, "merchant.") == ["merchant.billing_paused", "merchant.billing_resumed"]
    assert [message.subject for message in mail.outbox][-1].endswith("is back in good standing")
    assert len(mail.outbox) == 2


def test_an_invoice_paid_meanwhile_at_stripe_pauses_nothing(stripe_on, profile, merchant, owner, committed):
    card_saved(stripe_on, merchant, owner, number=DECLINES_CHARGES)
    invoice = Invoice.objects.get(merchant=merchant)
    _overdue(invoice, 30)
    good = stripe_on.card_attach(profile.stripe_customer_id, "4242424242424242")
    stripe_on.post(
        f"/v1/customers/{profile.stripe_customer_id}", {"invoice_settings": {"default_payment_method": good}}
    )
    stripe_on.post(f"/v1/invoices/{invoice.stripe_id}/pay", {})  # paid on Stripe's hosted page

    assert committed(dunning_due) == 0

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert not billing_paused(merchant)
    assert webhooks(merchant, "merchant.") == []
    assert mail.outbox == []
