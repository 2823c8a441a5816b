"""The citizen app in a real browser, on a phone-sized screen: a member signs in, claims a
perk with points after a confirmation that says what it costs, finds its QR code in the
wallet, and shows a member pass that changes on its countdown."""

import re

import pytest
from playwright.sync_api import Page, expect

from loyalty.members.models import MemberPass
from loyalty.points.services import points_adjust
from perks.vouchers.codes import code_format
from perks.vouchers.models import Voucher
from tests.factories import JoinedMemberFactory, PerkFactory, UserFactory
from tests.support.browser import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def _member(email):
    return JoinedMemberFactory.create(user=UserFactory.create(email=email))


def test_a_member_claims_a_free_coffee_and_shows_its_qr_code(browser_page: Page, live_server):
    member = _member("mei@example.test")
    points_adjust(member=member, points=150, note="welcome", idempotency_key="welcome", actor="test")
    PerkFactory.create(title="Free flat white", points_cost=120)
    page = browser_page

    sign_in(page, f"{live_server.url}/app/login/", "mei@example.test", PASSWORD)
    page.get_by_role("link", name="Perks", exact=True).click()
    screenshot(page, "claim-1-perks")
    page.get_by_role("link", name="Claim Free flat white").click()

    expect(page.get_by_text("Claim for 120 points? You will have 30 left.")).to_be_visible()
    screenshot(page, "claim-2-confirm")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", name="Perks", level=1)).to_be_visible()
    assert not Voucher.objects.filter(member=member).exists()

    page.get_by_role("link", name="Claim Free flat white").click()
    page.get_by_role("button", name="Claim for 120 points").click()

    voucher = Voucher.objects.get(member=member)
    expect(page.get_by_text("Free flat white is in your wallet.")).to_be_visible()
    expect(page.get_by_text(code_format(voucher.code))).to_be_visible()
    expect(page.get_by_text("Turn your screen brightness up to scan.")).to_be_visible()
    # Thirty days less the seconds since the claim: never more time than there is.
    expect(page.locator("time.voucher-countdown")).to_have_text("in 29 days")
    qr = page.get_by_alt_text(f"QR code of this voucher, code {code_format(voucher.code)}")
    expect(qr).to_be_visible()
    # Visible is not loaded: wait for the image itself (it fails the test if it never decodes).
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=qr.element_handle())
    screenshot(page, "claim-3-voucher")

    page.get_by_role("link", name="Back to the wallet").click()
    expect(page.get_by_text("1 use left")).to_be_visible()
    screenshot(page, "claim-4-wallet")

    page.get_by_role("link", name="Perks", exact=True).click()
    expect(page.get_by_text("90 more points to claim this.")).to_be_visible()
    assert Voucher.objects.filter(member=member).count() == 1


def test_the_member_pass_changes_when_its_countdown_ends(browser_page: Page, live_server, settings):
    settings.MEMBER_PASS_TTL_SECONDS = 6  # a fresh code every 3 seconds
    member = _member("ling@example.test")
    page = browser_page

    sign_in(page, f"{live_server.url}/app/login/", "ling@example.test", PASSWORD)
    page.goto(f"{live_server.url}/app/pass/")

    expect(page.get_by_role("img", name="Member pass code, refreshes in 3 seconds")).to_be_visible()
    assert page.locator("main").get_attribute("data-needs-network") is not None
    first = page.locator("#pass-qr svg").inner_html()
    seconds = page.locator("[data-pass-seconds]")
    # The countdown moves: from 3 it goes down before the code changes.
    expect(seconds).not_to_have_text("3", timeout=2500)
    screenshot(page, "pass-1-counting")

    page.wait_for_function(
        "first => document.querySelector('#pass-qr svg').innerHTML !== first", arg=first, timeout=8000
    )
    # The new code brings its own countdown, started again from the top.
    expect(page.locator("[data-pass]")).to_have_attribute("data-seconds-left", "3")
    expect(seconds).to_have_text(re.compile(r"^[123]$"))
    expect(page.locator("[data-pass-offline]")).to_be_hidden()
    screenshot(page, "pass-2-refreshed")
    assert MemberPass.objects.filter(member=member).count() >= 2
