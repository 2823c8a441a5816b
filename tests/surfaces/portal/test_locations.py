"""Locations in the portal: managers and owners add, edit, close and reopen them; a code is
unique within a merchant, and a clash says so beside the code."""

import pytest
from django.urls import reverse

from perks.merchants.models import AuditEntry, Location
from perks.merchants.permissions import Role
from tests.factories import LocationFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client):
    staff = StaffFactory.create(role=Role.MANAGER)
    client.force_login(staff.user)
    return staff


def _list(manager):
    return reverse("portal:locations", args=[manager.merchant.slug])


def test_an_empty_list_says_what_to_do(client, manager):
    page = client.get(_list(manager)).content.decode()

    assert "No locations yet. Add your first one below" in page


def test_a_manager_adds_a_location_and_its_code_is_tidied(client, manager):
    response = client.post(_list(manager), {"name": "Airport T2", "code": " pvg-t2 ", "address": "Pudong"})

    assert response.status_code == 302
    location = Location.objects.get(merchant=manager.merchant)
    assert (location.name, location.code, location.address, location.is_active) == (
        "Airport T2",
        "PVG-T2",
        "Pudong",
        True,
    )
    assert AuditEntry.objects.filter(action="location.created", target=location.ref).exists()
    assert "PVG-T2" in client.get(_list(manager)).content.decode()


def test_a_taken_code_is_refused_beside_the_code_field(client, manager):
    LocationFactory.create(merchant=manager.merchant, code="PVG-T2")
    LocationFactory.create(code="SHA-1")  # another merchant's code is no clash

    taken = client.post(_list(manager), {"name": "Second desk", "code": "pvg-t2"})
    elsewhere = client.post(_list(manager), {"name": "Station", "code": "SHA-1"})

    assert taken.status_code == 200
    assert taken.context["form"].errors["code"] == ["Another location already has the code PVG-T2."]
    assert elsewhere.status_code == 302
    assert Location.objects.filter(merchant=manager.merchant).count() == 2


def test_a_malformed_code_is_refused(client, manager):
    response = client.post(_list(manager), {"name": "Desk", "code": "no spaces please"})

    assert "1–16 letters, digits or hyphens" in response.context["form"].errors["code"][0]
    assert not Location.objects.exists()


def test_a_manager_edits_a_location_and_closes_it(client, manager):
    location = LocationFactory.create(merchant=manager.merchant, code="OLD", name="Old name")
    url = reverse("portal:location", args=[manager.merchant.slug, location.ref])
    assert 'value="OLD"' in client.get(url).content.decode()

    response = client.post(url, {"name": "Airport T2", "code": "pvg-t2", "address": "Gate 5"})

    assert response.status_code == 302
    location.refresh_from_db()
    assert (location.name, location.code, location.address, location.is_active) == (
        "Airport T2",
        "PVG-T2",
        "Gate 5",
        False,  # the box "Open" was left unticked
    )
    entry = AuditEntry.objects.get(action="location.updated")
    assert entry.params == {"name": "Airport T2", "code": "PVG-T2", "address": "Gate 5"}
    assert AuditEntry.objects.filter(action="location.deactivated", target=location.ref).exists()


def test_editing_to_a_taken_code_is_refused(client, manager):
    LocationFactory.create(merchant=manager.merchant, code="TAKEN")
    location = LocationFactory.create(merchant=manager.merchant, code="MINE")
    url = reverse("portal:location", args=[manager.merchant.slug, location.ref])

    response = client.post(url, {"name": "Mine", "code": "taken", "is_active": "on"})

    assert response.status_code == 200
    assert response.context["form"].errors["code"] == ["Another location already has the code TAKEN."]
    location.refresh_from_db()
    assert location.code == "MINE"


def test_close_and_reopen_from_the_list(client, manager):
    location = LocationFactory.create(merchant=manager.merchant, code="DESK")
    url = reverse("portal:location-active", args=[manager.merchant.slug, location.ref])

    client.post(url)
    location.refresh_from_db()
    assert not location.is_active
    assert "Reopen DESK" in client.get(_list(manager)).content.decode()
    client.post(url, {"active": "1"})
    location.refresh_from_db()
    assert location.is_active


def test_another_merchants_location_is_not_found_and_cashiers_are_refused(client, manager):
    elsewhere = LocationFactory.create()
    slug = manager.merchant.slug

    assert client.get(reverse("portal:location", args=[slug, elsewhere.ref])).status_code == 404
    assert client.post(reverse("portal:location-active", args=[slug, elsewhere.ref])).status_code == 404
    elsewhere.refresh_from_db()
    assert elsewhere.is_active
    client.force_login(StaffFactory.create(merchant=manager.merchant, role=Role.CASHIER).user)
    assert client.get(_list(manager)).status_code == 403
