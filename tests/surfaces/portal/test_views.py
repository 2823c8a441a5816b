"""The merchant portal: each person sees only the merchants they work for, and can do
there what their role allows, with secrets shown once."""

import pytest
from django.urls import reverse

from perks.catalog.models import PerkStatus
from perks.merchants.models import ApiKey, AuditEntry
from perks.merchants.permissions import Role, Scope
from perks.merchants.services import api_key_authenticate
from tests.factories import MerchantFactory, PerkFactory, StaffFactory

pytestmark = pytest.mark.django_db


def signed_in_as(client, role, merchant=None):
    staff = StaffFactory.create(role=role, **({"merchant": merchant} if merchant else {}))
    client.force_login(staff.user)
    return staff


def test_signed_out_visitors_are_sent_to_sign_in(client):
    merchant = MerchantFactory.create()

    response = client.get(reverse("portal:dashboard", args=[merchant.slug]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


def test_someone_elses_merchant_is_not_found(client):
    signed_in_as(client, Role.OWNER)
    other = MerchantFactory.create()

    assert client.get(reverse("portal:dashboard", args=[other.slug])).status_code == 404
    assert client.get(reverse("portal:keys", args=[other.slug])).status_code == 404


def test_home_goes_straight_to_the_only_merchant_and_lists_several(client):
    staff = signed_in_as(client, Role.CASHIER)

    assert client.get(reverse("portal:home"))["Location"] == reverse(
        "portal:dashboard", args=[staff.merchant.slug]
    )

    StaffFactory.create(user=staff.user, role=Role.OWNER)
    listing = client.get(reverse("portal:home"))
    assert len(listing.context["memberships"]) == 2


def test_dashboard_lists_the_merchants_perks_only(client):
    staff = signed_in_as(client, Role.MANAGER)
    mine = PerkFactory.create(merchant=staff.merchant, title="Free flat white")
    PerkFactory.create(title="Someone else's perk")

    page = client.get(reverse("portal:dashboard", args=[staff.merchant.slug])).content.decode()

    assert mine.title in page
    assert "Someone else" not in page


def test_a_manager_pauses_a_perk_and_a_cashier_cannot(client):
    staff = signed_in_as(client, Role.MANAGER)
    perk = PerkFactory.create(merchant=staff.merchant)
    url = reverse("portal:perk-status", args=[staff.merchant.slug, perk.ref])

    client.post(url, {"to": PerkStatus.PAUSED})
    perk.refresh_from_db()
    assert perk.status == PerkStatus.PAUSED

    signed_in_as(client, Role.CASHIER, merchant=staff.merchant)
    response = client.post(url, {"to": PerkStatus.ACTIVE})
    perk.refresh_from_db()
    assert perk.status == PerkStatus.PAUSED
    assert response.status_code == 403


def test_an_archived_perk_cannot_come_back(client):
    staff = signed_in_as(client, Role.OWNER)
    perk = PerkFactory.create(merchant=staff.merchant, status=PerkStatus.ARCHIVED)

    client.post(
        reverse("portal:perk-status", args=[staff.merchant.slug, perk.ref]), {"to": PerkStatus.ACTIVE}
    )

    perk.refresh_from_db()
    assert perk.status == PerkStatus.ARCHIVED


def test_an_owner_creates_a_key_that_is_shown_once_and_works(client):
    staff = signed_in_as(client, Role.OWNER)
    url = reverse("portal:keys", args=[staff.merchant.slug])

    created = client.post(url, {"name": "Till 3", "scopes": [Scope.REDEMPTIONS_WRITE]})
    plaintext = created.context["created"].plaintext
    listing = client.get(url)

    assert plaintext in created.content.decode()
    assert "no-store" in created["Cache-Control"]
    assert plaintext not in listing.content.decode()
    key = api_key_authenticate(plaintext)
    assert key is not None
    assert key.merchant == staff.merchant
    assert key.scopes == [Scope.REDEMPTIONS_WRITE]


def test_a_revoked_key_stops_working(client):
    staff = signed_in_as(client, Role.OWNER)
    created = client.post(reverse("portal:keys", args=[staff.merchant.slug]), {"name": "Old till"})
    key = created.context["created"].key

    client.post(reverse("portal:key-revoke", args=[staff.merchant.slug, key.prefix]))

    assert api_key_authenticate(created.context["created"].plaintext) is None


def test_a_cashier_cannot_create_keys(client):
    staff = signed_in_as(client, Role.CASHIER)

    response = client.post(reverse("portal:keys", args=[staff.merchant.slug]), {"name": "Sneaky"})

    assert response.status_code == 403
    assert not ApiKey.objects.filter(merchant=staff.merchant).exists()
    assert (
        "API keys" not in client.get(reverse("portal:dashboard", args=[staff.merchant.slug])).content.decode()
    )


def test_an_owner_adds_a_webhook_endpoint_and_sees_its_secret_once(client):
    staff = signed_in_as(client, Role.OWNER)
    url = reverse("portal:webhooks", args=[staff.merchant.slug])

    created = client.post(url, {"url": "https://pos.example.com/hooks", "event_types": ["voucher.redeemed"]})
    secret = created.context["created"].secret

    assert secret in created.content.decode()
    assert secret not in client.get(url).content.decode()
    assert "https://pos.example.com/hooks" in client.get(url).content.decode()


def test_the_audit_trail_shows_what_staff_did(client):
    staff = signed_in_as(client, Role.OWNER)
    client.post(reverse("portal:keys", args=[staff.merchant.slug]), {"name": "Till 9"})

    page = client.get(reverse("portal:audit", args=[staff.merchant.slug]))

    entries = list(page.context["entries"])
    assert entries
    assert entries[0] == AuditEntry.objects.filter(merchant=staff.merchant).latest("created_at")
    assert staff.user.email in page.content.decode()
