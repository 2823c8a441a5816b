"""Stripe's webhooks at /stripe/webhook, with the events a real localstripe made: a bad
signature is a 400; an event delivered any number of times, in any order, is stored and
applied once (invariant 4); a type nobody handles is stored and acknowledged."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from perks.billing.models import Deposit, DepositStatus, Invoice, InvoiceStatus, StripeEvent
from perks.billing.selectors import billing_paused
from perks.billing.services import (
    billing_subscribe,
    deposit_create,
    deposit_refresh,
    dunning_due,
    stripe_event_apply,
    stripe_events_apply_due,
)
from tests.perks.billing.conftest import webhooks
from tests.support.stripe import event_body, signed

pytestmark = pytest.mark.django_db

URL = "/stripe/webhook"
WAIT_SECONDS = 30


def deliver(client, event, *, signature=None):
    body = event_body(event) if isinstance(event, dict) else event
    return client.post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature or signed(body)
    )


def test_a_body_that_does_not_verify_is_400_and_nothing_is_stored(stripe_on, profile, client):
    event = stripe_on.events("customer.created")[-1]
    body = event_body(event)
    tampered = body.replace(b"customer.created", b"customer.deleted")
    stale = int(time.time()) - 301

    for payload, signature in (
        (body, signed(body, secret="whsec_someone_else")),
        (tampered, signed(body)),
        (body, signed(body, at=stale)),
        (body, "t=1,v1=nothing"),
        (b"not json", signed(b"not json")),
    ):
        response = deliver(client, payload, signature=signature)
        assert response.status_code == 400, payload
        assert response.json()["error"]["code"] == "invalid_signature"
    assert client.post(URL, data=body, content_type="application/json").status_code == 400
    assert client.get(URL).status_code == 405
    assert not StripeEvent.objects.exists()


def test_an_unknown_type_is_stored_acknowledged_and_ignored(stripe_on, profile, client):
    event = stripe_on.events("customer.created")[-1]

    response = deliver(client, event)

    assert (response.status_code, response.json()) == (200, {"received": event["id"]})
    stored = StripeEvent.objects.get()
    assert (stored.stripe_id, stored.type, stored.payload["data"]["object"]["id"]) == (
        event["id"],
        "customer.created",
        profile.stripe_customer_id,
    )
    assert stripe_events_apply_due() == 1
    stored.refresh_from_db()
    assert stored.applied_at is not None
    assert stored.result.startswith("ignored")


def test_the_connect_endpoints_secret_verifies_too_and_its_invoices_are_not_ours(
    stripe_on, profile, merchant, client, settings
):
    settings.STRIPE_WEBHOOK_SECRET = f"{settings.STRIPE_WEBHOOK_SECRET}, whsec_connect"
    subscribed_with(stripe_on, profile, merchant, "4242424242424242")
    Invoice.objects.all().delete()
    event = {**stripe_on.events("invoice.created")[-1], "account": "acct_1SomeoneElse"}
    body = event_body(event)

    assert deliver(client, body, signature=signed(body, secret="whsec_connect")).status_code == 200
    assert stripe_events_apply_due() == 1

    stored = StripeEvent.objects.get()
    assert (stored.account, stored.result) == ("acct_1SomeoneElse", "a connected account's invoice: not ours")
    assert not Invoice.objects.exists()


def test_an_event_delivered_again_is_acknowledged_and_stored_once(stripe_on, profile, client):
    event = stripe_on.events("customer.created")[-1]

    assert [deliver(client, event).status_code for _ in range(3)] == [200, 200, 200]

    assert StripeEvent.objects.filter(stripe_id=event["id"]).count() == 1
    assert stripe_events_apply_due() == 1
    assert stripe_event_apply(event_id=StripeEvent.objects.get().pk) is False


def test_invoice_events_twice_and_in_reverse_order_leave_it_paid_and_billing_resumed_once(
    stripe_on, profile, merchant, client
):
    """The invoice's payment fails (3-D Secure refused), billing is paused past the grace
    period, then the merchant pays on Stripe's side: the events arrive success first, each
    twice, and the failure after them must not undo the payment."""
    customer = profile.stripe_customer_id
    subscribed_with(stripe_on, profile, merchant, "4000002500003155")
    invoice = Invoice.objects.get(merchant=merchant)
    intent = stripe_on.get(f"/v1/invoices/{invoice.stripe_id}")["payment_intent"]
    secret = stripe_on.get(f"/v1/payment_intents/{intent}")["client_secret"]
    stripe_on.card_authenticate(secret, success=False)
    Invoice.objects.filter(pk=invoice.pk).update(issued_at=timezone.now() - timedelta(days=30))
    assert dunning_due() == 1
    pays = stripe_on.card_attach(customer, "4242424242424242")
    stripe_on.post(f"/v1/customers/{customer}", {"invoice_settings": {"default_payment_method": pays}})
    stripe_on.post(f"/v1/invoices/{invoice.stripe_id}/pay", {})
    events = [
        event
        for event in stripe_on.events()
        if event["type"].startswith(("invoice.", "payment_intent."))
        and _about(event, invoice.stripe_id, intent)
    ]
    assert [e["type"] for e in events][-2:] == ["payment_intent.succeeded", "invoice.payment_succeeded"]
    assert "invoice.payment_failed" in [e["type"] for e in events]

    for event in reversed(events):
        assert deliver(client, event).status_code == 200
        assert deliver(client, event).status_code == 200
    assert stripe_events_apply_due() == len(events)
    assert stripe_events_apply_due() == 0

    assert StripeEvent.objects.count() == len(events)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert not billing_paused(merchant)
    assert webhooks(merchant, "merchant.") == ["merchant.billing_paused", "merchant.billing_resumed"]


def test_a_deposit_captured_at_stripe_is_captured_here_once(
    stripe_on, profile, merchant, key, member, client
):
    first = deposit_create(merchant=merchant, actor=key, member=member, amount="1.00", currency="CNY")
    stripe_on.card_setup_confirm(first.client_secret)
    deposit_refresh(deposit=first)
    deposit = deposit_create(merchant=merchant, actor=key, member=member, amount="400.00", currency="CNY")
    stripe_on.post(f"/v1/payment_intents/{deposit.payment_intent_id}/capture", {"amount_to_capture": "12000"})
    [succeeded] = [
        event
        for event in stripe_on.events("payment_intent.succeeded")
        if event["data"]["object"]["id"] == deposit.payment_intent_id
    ]

    deliver(client, succeeded)
    deliver(client, succeeded)
    stripe_events_apply_due()

    deposit = Deposit.objects.get(pk=deposit.pk)
    assert (deposit.status, str(deposit.captured_amount)) == (DepositStatus.CAPTURED, "120.0000")
    assert webhooks(merchant, "deposit.") == ["deposit.held", "deposit.held", "deposit.captured"]
    assert "captured" in StripeEvent.objects.get().result


def test_an_operator_applies_an_event_again_from_the_console(stripe_on, profile, admin_client):
    event = stripe_on.events("customer.created")[-1]
    stored = StripeEvent.objects.create(stripe_id=event["id"], type=event["type"], payload=event)
    stripe_event_apply(event_id=stored.pk)
    first = StripeEvent.objects.get().applied_at

    response = admin_client.post(
        "/admin/billing/stripeevent/", {"action": "replay", "_selected_action": [stored.pk]}, follow=True
    )

    assert response.status_code == 200
    assert "Applied again: 1." in response.content.decode()
    applied_at = StripeEvent.objects.get().applied_at
    assert applied_at is not None
    assert first is not None
    assert applied_at > first


@pytest.mark.django_db(transaction=True)
def test_localstripe_delivers_signed_events_the_endpoint_stores(stripe_on, profile, merchant, live_server):
    ours = StripeEvent.objects.filter(
        type="customer.updated", payload__data__object__id=profile.stripe_customer_id
    )
    stripe_on.webhooks_to(f"{live_server.url}{URL}", events=["customer.updated"])
    try:
        stripe_on.post(f"/v1/customers/{profile.stripe_customer_id}", {"metadata": {"note": "delivered"}})
        deadline = time.monotonic() + WAIT_SECONDS
        while not ours.exists():
            assert time.monotonic() < deadline, "localstripe's delivery never arrived"
            time.sleep(0.2)
    finally:
        stripe_on.webhooks_to("http://127.0.0.1:9/", events=["never.sent"])  # stop delivering here

    assert ours.get().payload["data"]["object"]["metadata"] == {
        "perkline_merchant": merchant.ref,
        "note": "delivered",
    }


def subscribed_with(stripe, profile, merchant, number):
    """The merchant subscribed with a card the server saved as its default (one localstripe's
    SetupIntent could not save, such as a card that always asks for 3-D Secure)."""
    card = stripe.card_attach(profile.stripe_customer_id, number)
    stripe.post(
        f"/v1/customers/{profile.stripe_customer_id}", {"invoice_settings": {"default_payment_method": card}}
    )
    billing_subscribe(merchant=merchant)


def _about(event, invoice_id, intent_id):
    obj = event["data"]["object"]
    return obj["id"] in (invoice_id, intent_id) or obj.get("invoice") == invoice_id


def test_the_payload_is_kept_as_sent(stripe_on, profile, client):
    event = stripe_on.events("customer.created")[-1]
    deliver(client, event)
    assert StripeEvent.objects.get().payload == json.loads(event_body(event))
