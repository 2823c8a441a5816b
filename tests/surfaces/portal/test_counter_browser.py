"""The counter in a real browser at a desk's size, by keyboard alone: a cashier redeems a
voucher, mistypes the next one and corrects it, and reverses a redemption rung up by
mistake; the location stays picked, and axe finds nothing serious on the way."""

import pytest
from playwright.sync_api import Page, expect

from perks.merchants.permissions import Role
from perks.vouchers.codes import CHECK_SYMBOLS, code_format
from perks.vouchers.models import Redemption, RedemptionChannel
from perks.vouchers.services import voucher_issue
from tests.factories import JoinedMemberFactory, LocationFactory, PerkFactory, StaffFactory, UserFactory
from tests.support.axe import axe_source, serious_violations
from tests.support.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def _sign_in_by_keyboard(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/portal/login/")
    page.get_by_label("E-mail").focus()
    page.keyboard.type(email)
    page.get_by_label("Password").focus()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda now: "/login/" not in now)


def _no_serious_violations(page: Page, source: str) -> None:
    found = serious_violations(page, source)
    assert found == [], "\n".join(map(str, found))


def test_a_cashier_redeems_mistypes_and_reverses_by_keyboard(browser_page: Page, live_server):
    source = axe_source()
    owner = StaffFactory.create(role=Role.OWNER)
    merchant = owner.merchant
    LocationFactory.create(merchant=merchant, name="Airport T1", code="T1")
    t2 = LocationFactory.create(merchant=merchant, name="Airport T2", code="T2")
    # A manager at the till: a cashier's role may not reverse (tests/surfaces/portal/test_counter.py).
    StaffFactory.create(
        merchant=merchant, role=Role.MANAGER, user=UserFactory.create(email="till@example.test")
    )
    perk = PerkFactory.create(merchant=merchant, title="Free coffee")
    first, second = (
        voucher_issue(perk=perk, member=JoinedMemberFactory.create(), actor=owner.user) for _ in "12"
    )
    mistyped = code_format(first.code[:-1] + next(s for s in CHECK_SYMBOLS if s != first.code[-1]))
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})

    _sign_in_by_keyboard(page, live_server.url, "till@example.test")
    page.goto(f"{live_server.url}/portal/{merchant.slug}/counter/")
    code = page.get_by_label("Voucher code")
    expect(code).to_be_focused()
    scan = page.get_by_role("button", name="Scan")
    if page.evaluate("'BarcodeDetector' in window"):
        expect(scan).to_be_visible()
    else:
        expect(scan).to_be_hidden()
    page.keyboard.press("Shift+Tab")
    location = page.get_by_label("Counter at")
    expect(location).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(location).to_have_value("T2")
    page.keyboard.press("Tab")
    page.keyboard.type(code_format(first.code).lower())
    page.keyboard.press("Enter")

    expect(page.get_by_role("status").filter(has_text=f"Redeemed {code_format(first.code)}.")).to_be_visible()
    expect(page.get_by_text("Free coffee").first).to_be_visible()
    expect(code).to_be_focused()
    expect(code).to_have_value("")
    expect(location).to_have_value("T2")
    screenshot(page, "counter_redeemed")
    _no_serious_violations(page, source)

    page.keyboard.type(mistyped)
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert").filter(has_text="Check the code: the last character does not match.")
    expect(alert).to_be_visible()
    expect(code).to_be_focused()
    expect(code).to_have_value(mistyped)
    screenshot(page, "counter_mistyped")
    _no_serious_violations(page, source)
    page.keyboard.type(code_format(second.code))  # the mistyped code is selected: typing replaces it
    page.keyboard.press("Enter")
    expect(
        page.get_by_role("status").filter(has_text=f"Redeemed {code_format(second.code)}.")
    ).to_be_visible()
    expect(code).to_have_value("")

    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("link", name="Reverse…", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Reverse this redemption of Free coffee?")).to_be_visible()
    screenshot(page, "counter_reversal_confirmation")
    _no_serious_violations(page, source)
    page.keyboard.type("Rang up twice")
    page.keyboard.press("Enter")

    expect(
        page.get_by_text("Reversed the redemption of Free coffee: the use is back on its voucher.")
    ).to_be_visible()
    expect(code).to_be_focused()
    expect(location).to_have_value("T2")  # remembered on this device
    screenshot(page, "counter_reversed")
    redemptions = {r.voucher_id: r for r in Redemption.objects.select_related("location", "reversal")}
    assert set(redemptions) == {first.pk, second.pk}
    assert {(r.channel, r.location_id) for r in redemptions.values()} == {(RedemptionChannel.PORTAL, t2.pk)}
    assert not hasattr(redemptions[first.pk], "reversal")
    assert redemptions[second.pk].reversal.reason == "Rang up twice"
