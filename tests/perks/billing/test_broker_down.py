"""Billing notices with the broker down: the pause is committed, the owners' email is due on
the profile, and beat's sweep sends it once, whether or not the task turns up too."""

import logging
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from perks.billing.models import BillingProfile, Invoice, InvoiceStatus
from perks.billing.services import billing_profile_create
from perks.billing.services.invoices import (
    NOTICE_GRACE,
    NOTICE_PAUSED,
    billing_notices_due,
    billing_pause,
    billing_resume,
)
from perks.billing.tasks import billing_notice_send
from tests.perks.billing.conftest import paused
from tests.support.celery import broker_unreachable

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def unpaid(merchant, owner, plan):
    billing_profile_create(merchant=merchant, actor=None, plan=plan)
    return Invoice.objects.create(
        merchant=merchant,
        stripe_id="in_unpaid",
        currency="CNY",
        amount_due=Decimal("99.00"),
        amount_paid=Decimal("0"),
        status=InvoiceStatus.OPEN,
    )


def test_a_pause_with_the_broker_down_emails_the_owners_from_the_sweep_once(merchant, owner, unpaid, caplog):
    caplog.set_level(logging.WARNING, logger="loyalty.core.tasks")
    with broker_unreachable():
        assert billing_pause(merchant=merchant, invoice=unpaid)

    assert paused(merchant)
    assert "billing.billing_notice_send not enqueued" in caplog.text
    assert mail.outbox == []
    paused_at = BillingProfile.objects.values_list("paused_at", flat=True).get(merchant=merchant)
    assert paused_at is not None

    assert billing_notices_due(now=paused_at) == 0  # its task still has the grace period
    assert billing_notices_due(now=paused_at + NOTICE_GRACE) == 1
    assert billing_notices_due(now=paused_at + NOTICE_GRACE) == 0

    [notice] = mail.outbox
    assert (notice.to, "99.00 CNY" in notice.body) == ([owner.email], True)
    # Its task, late, sends nothing twice.
    assert billing_notice_send(merchant.pk, NOTICE_PAUSED, unpaid.pk) == 0
    assert len(mail.outbox) == 1


def test_a_notice_a_newer_change_replaced_is_not_sent(merchant, owner, unpaid):
    with broker_unreachable():
        billing_pause(merchant=merchant, invoice=unpaid)
        billing_resume(merchant=merchant)

    assert billing_notice_send(merchant.pk, NOTICE_PAUSED, unpaid.pk) == 0  # its task, late
    assert billing_notices_due(now=timezone.now() + NOTICE_GRACE) == 1

    [notice] = mail.outbox
    assert notice.subject.endswith("is back in good standing")
