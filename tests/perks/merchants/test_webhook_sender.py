"""The sender's address guard: webhooks reach public addresses only, whatever a name leads to."""

import pytest

from perks.merchants.models import AttemptOutcome, WebhookDelivery
from perks.merchants.services import webhook_delivery_attempt, webhook_emit, webhook_endpoint_create
from perks.merchants.services.webhooks.sender import address_allowed
from tests.factories import MerchantFactory, StaffFactory
from tests.support.receiver import Receiver


@pytest.mark.django_db
def test_a_name_that_now_leads_to_our_own_network_gets_nothing(settings):
    """DNS rebinding: the URL passed its check when it was saved, and its name now leads
    somewhere webhooks may not go. Every connection's address is checked before a byte is
    sent, so the service there receives nothing and no answer of it is recorded."""
    with Receiver([200]).running() as receiver:
        merchant = MerchantFactory.create()
        owner = StaffFactory.create(merchant=merchant).user
        webhook_endpoint_create(
            merchant=merchant,
            actor=owner,
            url=receiver.url.replace("127.0.0.1", "localhost"),
            event_types=["voucher.redeemed"],
        )
        settings.WEBHOOK_ALLOW_LOOPBACK = False  # where "localhost" leads is now out of bounds
        event = webhook_emit(merchant=merchant, type="voucher.redeemed", data={"uses": 1})
        delivery = WebhookDelivery.objects.get(event=event)

        attempt = webhook_delivery_attempt(delivery_id=delivery.pk)

    assert receiver.received == []
    assert attempt is not None
    assert attempt.outcome == AttemptOutcome.FAILED
    assert attempt.status_code is None
    assert attempt.response_excerpt == ""
    assert attempt.error in {
        f"Refused: localhost is at {address}, which is not a public address."
        for address in ("127.0.0.1", "::1")
    }


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("10.1.2.3", False),
        ("172.16.0.9", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT: not private, not public either
        ("169.254.169.254", False),  # a cloud's instance metadata
        ("0.0.0.0", False),  # noqa: S104 (an address refused, not one bound)
        ("fd00::1", False),
        ("fe80::1%eth0", False),
        ("::ffff:10.1.2.3", False),
    ],
)
def test_only_public_addresses_get_webhooks(address, allowed, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True  # loopback aside, as in the demo: nothing else opens

    assert address_allowed(address) is allowed
