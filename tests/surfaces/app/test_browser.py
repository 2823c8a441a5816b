"""The citizen app in a real browser, on a phone-sized screen: a member signs in, claims a
perk with points, and finds its QR code in the wallet."""

import pytest
from playwright.sync_api import Page, expect

from loyalty.points.services import points_adjust
from perks.vouchers.codes import code_format
from perks.vouchers.models import Voucher
from tests.factories import JoinedMemberFactory, PerkFactory, UserFactory
from tests.support.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def test_a_member_claims_a_free_coffee_and_shows_its_qr_code(browser_page: Page, live_server):
    member = JoinedMemberFactory.create(user=UserFactory.create(email="mei@example.test"))
    points_adjust(member=member, points=150, note="welcome", idempotency_key="welcome", actor="test")
    PerkFactory.create(title="Free flat white", points_cost=120)
    page = browser_page

    sign_in(page, f"{live_server.url}/app/login/", "mei@example.test", PASSWORD)
    page.get_by_role("link", name="Perks").click()
    offer = page.locator("section.card", has_text="Free flat white")
    offer.get_by_role("button", name="Claim").click()

    voucher = Voucher.objects.get(member=member)
    expect(page.get_by_text("Free flat white is in your wallet.")).to_be_visible()
    expect(page.get_by_text(code_format(voucher.code))).to_be_visible()
    qr = page.get_by_alt_text("QR code of this voucher")
    expect(qr).to_be_visible()
    # Visible is not loaded: wait for the image itself (it fails the test if it never decodes).
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=qr.element_handle())

    page.get_by_role("link", name="Perks").click()
    expect(page.get_by_text("90 more points to claim this.")).to_be_visible()
