"""People and places in a real browser at 1280 by 800: an owner invites a cashier, who opens
the mailed link, sets a password, lands at the counter and signs in again with it; a
manager adds locations. axe checks every page on the way.

The live server runs in this process, so the mail it sends lands in Django's locmem
outbox, which the test reads as the invited person reads their mail.
"""

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from perks.merchants.models import Staff
from perks.merchants.permissions import Role
from tests.factories import LocationFactory, StaffFactory, UserFactory
from tests.support.axe import axe_source, serious_violations
from tests.support.browser import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a tram through the old town"
LINK = re.compile(r"https?://\S+/portal/invitations/\S+/")


def _axe_clean(page: Page, source: str) -> None:
    violations = serious_violations(page, source)
    assert not violations, f"{page.url}: " + "; ".join(str(v) for v in violations)


def test_an_owner_invites_a_cashier_who_signs_in(browser_page: Page, live_server):
    owner = StaffFactory.create(
        role=Role.OWNER, merchant__name="Blue Kettle", user=UserFactory.create(email="boss@example.test")
    )
    slug = owner.merchant.slug
    source = axe_source()
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})

    sign_in(page, f"{live_server.url}/portal/login/", "boss@example.test", PASSWORD)
    page.get_by_role("link", name="Staff", exact=True).click()
    expect(page.get_by_role("heading", name="Staff", exact=True)).to_be_visible()
    page.get_by_label("E-mail", exact=True).fill("till@example.test")
    page.get_by_label("Role", exact=True).select_option("cashier")
    screenshot(page, "people-01-owner-invites")
    page.get_by_role("button", name="Send the invitation").click()

    expect(page.get_by_text("Invitation sent to till@example.test")).to_be_visible()
    expect(page.get_by_role("button", name="Revoke the invitation of till@example.test")).to_be_visible()
    _axe_clean(page, source)
    screenshot(page, "people-02-invitation-sent")
    [message] = mail.outbox
    match = LINK.search(str(message.body))
    assert match is not None, message.body
    page.get_by_role("button", name="Sign out").click()

    page.goto(match.group())
    expect(page.get_by_role("heading", name="Join Blue Kettle")).to_be_visible()
    _axe_clean(page, source)
    page.get_by_label("Your name").fill("Lin Till")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Password again").fill(NEW_PASSWORD)
    screenshot(page, "people-03-cashier-sets-a-password")
    page.get_by_role("button", name="Create my account and join").click()

    expect(page.get_by_text("Welcome to Blue Kettle: you work here as Cashier.")).to_be_visible()
    expect(page.get_by_label("Voucher code")).to_be_visible()
    screenshot(page, "people-04-cashier-at-the-counter")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, f"{live_server.url}/portal/login/", "till@example.test", NEW_PASSWORD)
    page.get_by_role("link", name="Counter", exact=True).click()
    expect(page.get_by_label("Voucher code")).to_be_visible()
    expect(page.get_by_role("link", name="Staff", exact=True)).to_have_count(0)
    screenshot(page, "people-05-cashier-signed-in-again")
    assert Staff.objects.get(merchant__slug=slug, user__email="till@example.test").role == Role.CASHIER

    page.goto(match.group())
    expect(page.get_by_text("It was already used")).to_be_visible()
    _axe_clean(page, source)


def test_a_manager_adds_a_location_and_is_told_when_its_code_is_taken(browser_page: Page, live_server):
    manager = StaffFactory.create(role=Role.MANAGER, user=UserFactory.create(email="manager@example.test"))
    LocationFactory.create(merchant=manager.merchant, code="PVG-T2", name="Airport T2")
    source = axe_source()
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})

    sign_in(page, f"{live_server.url}/portal/login/", "manager@example.test", PASSWORD)
    page.get_by_role("link", name="Locations").click()
    page.get_by_label("Name").fill("Airport T2, second desk")
    page.get_by_label("Code").fill("pvg-t2")
    page.get_by_role("button", name="Add the location").click()

    expect(page.get_by_text("Another location already has the code PVG-T2.")).to_be_visible()
    _axe_clean(page, source)
    screenshot(page, "locations-01-code-taken")
    page.get_by_label("Code").fill("PVG-T2B")
    page.get_by_role("button", name="Add the location").click()
    expect(page.get_by_text("Location PVG-T2B is added.")).to_be_visible()
    page.get_by_role("button", name="Close PVG-T2B").click()
    expect(page.get_by_role("button", name="Reopen PVG-T2B")).to_be_visible()
    page.get_by_role("link", name="Airport T2, second desk").click()
    _axe_clean(page, source)
    screenshot(page, "locations-02-edit")
