"""What the loyalty side tells a merchant becomes a webhook of that merchant's, in the
transaction that caused it."""

import pytest
from django.db import transaction

from loyalty.core.events import merchant_notify
from perks.merchants.models import WebhookEvent
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def test_a_notice_to_a_merchant_is_a_webhook_event_of_its_own():
    merchant, other = MerchantFactory.create(), MerchantFactory.create()
    merchant_notify(merchant_ref=merchant.ref, type="member.erased", data={"member": "mem_x"})
    event = WebhookEvent.objects.get()
    assert (event.merchant, event.type, event.data) == (merchant, "member.erased", {"member": "mem_x"})
    assert not WebhookEvent.objects.filter(merchant=other).exists()


def test_a_notice_rolled_back_with_its_cause_leaves_nothing():
    merchant = MerchantFactory.create()

    def cause_that_fails():
        with transaction.atomic():
            merchant_notify(merchant_ref=merchant.ref, type="hold.appealed", data={})
            raise RuntimeError("the cause failed")

    with pytest.raises(RuntimeError):
        cause_that_fails()
    assert not WebhookEvent.objects.exists()


def test_a_notice_to_no_merchant_is_dropped():
    merchant_notify(merchant_ref="platform", type="member.erased", data={})
    assert not WebhookEvent.objects.exists()
