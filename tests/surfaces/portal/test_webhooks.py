"""Webhook pages of the portal: endpoints edited, turned off and on, tested through a real
worker; deliveries read one by one and retried, against a real HTTP server on the loopback."""

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from perks.merchants.audit import AuditAction
from perks.merchants.models import AuditEntry, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from perks.merchants.permissions import Role
from perks.merchants.services import webhook_delivery_attempt, webhook_emit, webhook_endpoint_create
from perks.merchants.services.webhooks.delivery import TEST_EVENT_TYPE
from tests.factories import StaffFactory
from tests.perks.merchants.test_webhook_delivery import verify_signature, wait_until
from tests.support.receiver import Receiver


@pytest.fixture
def owner(client, db):
    owner = StaffFactory.create(role=Role.OWNER)
    client.force_login(owner.user)
    return owner


def _endpoint(owner, url="https://pos.example.com/hooks", types=("voucher.redeemed",)):
    return webhook_endpoint_create(merchant=owner.merchant, actor=owner.user, url=url, event_types=types)


def _url(name, owner, *args):
    return reverse(name, args=[owner.merchant.slug, *args])


def test_an_owner_edits_an_endpoints_url_and_events_and_its_secret_stays(client, owner):
    created = _endpoint(owner)
    page = _url("portal:webhook-endpoint", owner, created.endpoint.ref)

    form = client.get(page)
    saved = client.post(
        page, {"url": "https://pos.example.com/v2", "event_types": ["voucher.issued", "redemption.reversed"]}
    )

    endpoint = WebhookEndpoint.objects.get(pk=created.endpoint.pk)
    assert 'value="voucher.redeemed"' in form.content.decode()
    assert saved.status_code == 302
    assert endpoint.url == "https://pos.example.com/v2"
    assert endpoint.event_types == ["redemption.reversed", "voucher.issued"]
    assert endpoint.secret == created.secret
    assert AuditEntry.objects.filter(
        action=AuditAction.WEBHOOK_ENDPOINT_UPDATED, target=endpoint.ref
    ).exists()


def test_the_services_refusal_lands_on_the_field(client, owner):
    created = _endpoint(owner)

    response = client.post(
        _url("portal:webhook-endpoint", owner, created.endpoint.ref),
        {"url": "http://pos.example.com/plain", "event_types": ["voucher.issued"]},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["url"] == ["Webhook URLs must use https."]
    assert WebhookEndpoint.objects.get(pk=created.endpoint.pk).url == "https://pos.example.com/hooks"


def test_the_event_checkboxes_sit_inside_their_labels(client, owner):
    body = client.get(_url("portal:webhooks", owner)).content.decode()

    assert re.search(r'<label for="id_event_types_0"[^>]*>\s*<input type="checkbox" name="event_types"', body)


def test_an_endpoint_turned_off_gets_nothing_and_cannot_be_tested_until_turned_on(client, owner):
    created = _endpoint(owner)
    ref = created.endpoint.ref

    client.post(_url("portal:webhook-endpoint-active", owner, ref), {"active": "off"})
    webhook_emit(merchant=owner.merchant, type="voucher.redeemed", data={"uses": 1})
    refused = client.post(_url("portal:webhook-endpoint-test", owner, ref), follow=True)
    off_page = client.get(_url("portal:webhooks", owner)).content.decode()
    client.post(_url("portal:webhook-endpoint-active", owner, ref), {"active": "on"})

    assert not WebhookDelivery.objects.exists()
    assert "Turn the endpoint on before you send it a test event." in refused.content.decode()
    assert "Turn on" in off_page
    assert WebhookEndpoint.objects.get(pk=created.endpoint.pk).is_active
    assert [
        entry.params for entry in AuditEntry.objects.filter(action=AuditAction.WEBHOOK_ENDPOINT_UPDATED)
    ] == [
        {"is_active": True},
        {"is_active": False},
    ]


@pytest.mark.django_db(transaction=True)
def test_a_test_event_goes_through_a_real_worker_signed_and_its_answer_shows(client, celery_worker):
    owner = StaffFactory.create(role=Role.OWNER)
    client.force_login(owner.user)
    with Receiver([200]).running() as receiver:
        created = _endpoint(owner, url=receiver.url, types=("voucher.redeemed",))

        sent = client.post(_url("portal:webhook-endpoint-test", owner, created.endpoint.ref))
        delivery = WebhookDelivery.objects.get()
        wait_until(lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED)

    assert sent["Location"] == _url("portal:delivery", owner, delivery.ref)
    [received] = receiver.received
    body = json.loads(received.body)
    assert body["type"] == TEST_EVENT_TYPE == "webhook.test"
    assert body["data"] == {"test": True, "endpoint": created.endpoint.ref}
    assert verify_signature(received.headers["Perkline-Signature"], received.body, created.secret)
    page = client.get(sent["Location"]).content.decode()
    assert "HTTP 200" in page
    assert "answered 200" in page
    assert created.secret not in page
    assert AuditEntry.objects.filter(action=AuditAction.WEBHOOK_ENDPOINT_TESTED).exists()


def test_a_failed_delivery_shows_its_status_excerpt_and_error_and_is_retried(client, owner):
    with Receiver([500, 200]).running() as receiver:
        created = _endpoint(owner, url=receiver.url)
        event = webhook_emit(merchant=owner.merchant, type="voucher.redeemed", data={"uses": 1})
        delivery = WebhookDelivery.objects.get(event=event)
        # Its 24 hours end in moments: this failure is its last.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(deadline=timezone.now() + timedelta(seconds=5))
        webhook_delivery_attempt(delivery_id=delivery.pk)
        detail = _url("portal:delivery", owner, delivery.ref)

        failed = client.get(detail).content.decode()
        listed = client.get(_url("portal:webhooks", owner)).content.decode()
        retried = client.post(_url("portal:delivery-retry", owner, delivery.ref))
        pending = WebhookDelivery.objects.get(pk=delivery.pk)
        webhook_delivery_attempt(delivery_id=delivery.pk)

    assert WebhookDelivery.objects.get(pk=delivery.pk).attempt_count == 2
    assert "HTTP 500" in failed
    assert "answered 500" in failed  # the answer's body, its first characters
    assert "Retry now" in failed
    assert "&quot;type&quot;:&quot;voucher.redeemed&quot;" in failed  # the body as sent
    assert "Perkline-Signature" in failed
    assert created.secret not in failed
    assert "HTTP 500" in listed
    assert retried["Location"] == detail
    assert pending.status == DeliveryStatus.PENDING
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED
    assert "Delivered" in client.get(detail).content.decode()
    assert AuditEntry.objects.filter(
        action=AuditAction.WEBHOOK_DELIVERY_RETRIED, target=delivery.ref
    ).exists()


def test_a_connection_error_is_shown_without_a_status(client, owner, settings):
    created = _endpoint(owner, url="http://127.0.0.1:9/closed")
    event = webhook_emit(merchant=owner.merchant, type="voucher.redeemed", data={"uses": 1})
    delivery = WebhookDelivery.objects.get(event=event)
    webhook_delivery_attempt(delivery_id=delivery.pk)

    page = client.get(_url("portal:delivery", owner, delivery.ref)).content.decode()

    assert created.endpoint.url in page
    assert "no answer" in page
    assert "ConnectionError" in page
    assert "Next try" in page


def test_another_merchants_endpoints_and_deliveries_are_not_found(client, owner):
    other = StaffFactory.create(role=Role.OWNER)
    theirs = _endpoint(other, url="http://127.0.0.1:9/theirs")
    event = webhook_emit(merchant=other.merchant, type="voucher.redeemed", data={"uses": 1})
    delivery = WebhookDelivery.objects.get(event=event)

    assert client.get(_url("portal:webhook-endpoint", owner, theirs.endpoint.ref)).status_code == 404
    assert client.post(_url("portal:webhook-endpoint-test", owner, theirs.endpoint.ref)).status_code == 404
    assert client.get(_url("portal:delivery", owner, delivery.ref)).status_code == 404
    assert client.post(_url("portal:delivery-retry", owner, delivery.ref)).status_code == 404
