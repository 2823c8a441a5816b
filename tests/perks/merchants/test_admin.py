"""The operator console works through the services: their refusals show on the form."""

import pytest
from django.urls import reverse

from perks.catalog.models import Perk, PerkStatus
from perks.merchants.models import ApiKey, AuditEntry, Merchant, MerchantStatus, Staff, WebhookDelivery
from perks.merchants.permissions import Role
from perks.merchants.services import (
    api_key_authenticate,
    webhook_delivery_attempt,
    webhook_emit,
    webhook_endpoint_create,
)
from tests.factories import MerchantFactory, PerkFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_signing_up_a_merchant_makes_its_owner_and_audits_the_operator(admin_client, admin_user):
    owner = UserFactory.create()

    response = admin_client.post(
        reverse("admin:merchants_merchant_add"),
        {"name": "Lantern Hotels", "slug": "", "category": "hotel", "owner": owner.pk},
    )

    assert response.status_code == 302, response.content
    merchant = Merchant.objects.get(slug="lantern-hotels")
    assert Staff.objects.get(merchant=merchant).user == owner
    assert AuditEntry.objects.get(merchant=merchant, action="merchant.created").actor_user == admin_user


def test_a_taken_slug_is_shown_on_the_form(admin_client):
    MerchantFactory.create(slug="lantern-hotels")

    response = admin_client.post(
        reverse("admin:merchants_merchant_add"),
        {"name": "Lantern", "slug": "lantern-hotels", "category": "hotel", "owner": UserFactory.create().pk},
    )

    assert response.status_code == 200
    assert "is taken" in str(response.context["adminform"].form.errors["slug"])


def test_a_new_key_is_shown_once_and_authenticates(admin_client):
    merchant = MerchantFactory.create()

    response = admin_client.post(
        reverse("admin:merchants_apikey_add"),
        {"merchant": merchant.pk, "name": "Front desk", "scopes": ["redemptions:write"]},
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    plaintext = response.context["plaintext"]
    key = api_key_authenticate(plaintext)
    assert key is not None
    assert key.scopes == ["redemptions:write"]
    page = admin_client.get(reverse("admin:merchants_apikey_change", args=[key.pk])).content.decode()
    assert plaintext not in page
    assert key.secret_hash not in page


def test_revoking_keys_from_the_list(admin_client):
    merchant = MerchantFactory.create()
    admin_client.post(
        reverse("admin:merchants_apikey_add"), {"merchant": merchant.pk, "name": "POS", "scopes": []}
    )
    key = ApiKey.objects.get()

    admin_client.post(
        reverse("admin:merchants_apikey_changelist"), {"action": "revoke", "_selected_action": [key.pk]}
    )

    key.refresh_from_db()
    assert key.revoked_at is not None


def test_suspending_a_merchant_from_the_list(admin_client):
    merchant = MerchantFactory.create()

    admin_client.post(
        reverse("admin:merchants_merchant_changelist"),
        {"action": "suspend", "_selected_action": [merchant.pk]},
    )

    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.SUSPENDED
    assert AuditEntry.objects.get(action="merchant.status_changed").params["to"] == "suspended"


def test_removing_the_last_owner_is_refused_on_the_page(admin_client):
    staff = StaffFactory.create(role=Role.OWNER)

    response = admin_client.post(
        reverse("admin:merchants_staff_delete", args=[staff.pk]), {"post": "yes"}, follow=True
    )

    assert Staff.objects.filter(pk=staff.pk).exists()
    assert "at least one owner" in response.content.decode()


def test_a_perk_made_in_the_admin_goes_through_the_service(admin_client):
    merchant = MerchantFactory.create()
    form = {
        "merchant": merchant.pk,
        "type": "access_pass",
        "status": "active",
        "title": "Lounge, 4 visits",
        "description": "",
        "params": '{"venue": "PVG T2", "kind": "lounge", "entries_per_voucher": 4}',
        "min_score": 700,
        "points_cost": 0,
        "valid_from_0": "2026-01-01",
        "valid_from_1": "00:00:00",
        "limit_period": "lifetime",
        "voucher_ttl_days": 90,
    }

    response = admin_client.post(reverse("admin:catalog_perk_add"), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    perk = Perk.objects.get()
    assert (perk.uses_per_voucher, perk.status) == (4, PerkStatus.ACTIVE)
    assert AuditEntry.objects.filter(action="perk.created", target=perk.ref).exists()


def test_bad_perk_parameters_are_shown_on_the_form(admin_client):
    perk = PerkFactory.create(inventory=10)
    url = reverse("admin:catalog_perk_change", args=[perk.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update({"params": '{"item": ""}', "valid_from_0": "2026-01-01", "valid_from_1": "00:00:00"})
    data.pop("valid_from", None)

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "item is required" in str(response.context["adminform"].form.errors["params"])


def test_pausing_perks_from_the_list(admin_client):
    perk = PerkFactory.create(status=PerkStatus.ACTIVE)

    admin_client.post(
        reverse("admin:catalog_perk_changelist"), {"action": "pause", "_selected_action": [perk.pk]}
    )

    perk.refresh_from_db()
    assert perk.status == PerkStatus.PAUSED


def test_every_page_of_the_merchant_side_renders(admin_client, admin_user):
    merchant = MerchantFactory.create()
    owner = StaffFactory.create(merchant=merchant).user
    endpoint = webhook_endpoint_create(
        merchant=merchant, actor=owner, url="http://127.0.0.1:9/hooks", event_types=["voucher.issued"]
    ).endpoint
    webhook_emit(merchant=merchant, type="voucher.issued", data={"code": "X"})
    delivery = WebhookDelivery.objects.get()
    webhook_delivery_attempt(delivery_id=delivery.pk)
    PerkFactory.create(merchant=merchant)
    admin_client.post(
        reverse("admin:merchants_apikey_add"), {"merchant": merchant.pk, "name": "POS", "scopes": []}
    )

    for model in (
        "merchant",
        "location",
        "staff",
        "apikey",
        "webhookendpoint",
        "webhookdelivery",
        "webhookevent",
        "auditentry",
    ):
        assert admin_client.get(reverse(f"admin:merchants_{model}_changelist")).status_code == 200, model
    assert admin_client.get(reverse("admin:catalog_perk_changelist")).status_code == 200
    pages = [
        reverse("admin:merchants_merchant_change", args=[merchant.pk]),
        reverse("admin:merchants_webhookdelivery_change", args=[delivery.pk]),
        reverse("admin:merchants_webhookendpoint_change", args=[endpoint.pk]),
        reverse("admin:catalog_perk_change", args=[Perk.objects.get().pk]),
        reverse("admin:merchants_merchant_add"),
        reverse("admin:catalog_perk_add"),
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
    assert endpoint.secret not in admin_client.get(pages[2]).content.decode()
