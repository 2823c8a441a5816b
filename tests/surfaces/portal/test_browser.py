"""The portal's counter in a real browser: a cashier types a voucher code as a customer
reads it out, checks it, and redeems it once."""

import pytest
from playwright.sync_api import Page, expect

from perks.merchants.permissions import Role
from perks.vouchers.codes import code_format
from perks.vouchers.models import Redemption, RedemptionChannel
from perks.vouchers.services import voucher_issue
from tests.factories import JoinedMemberFactory, PerkFactory, StaffFactory, UserFactory
from tests.support.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def test_a_cashier_checks_and_redeems_a_voucher_at_the_counter(browser_page: Page, live_server):
    owner = StaffFactory.create(role=Role.OWNER)
    StaffFactory.create(
        merchant=owner.merchant, role=Role.CASHIER, user=UserFactory.create(email="till@example.test")
    )
    perk = PerkFactory.create(merchant=owner.merchant, title="Free flat white")
    voucher = voucher_issue(perk=perk, member=JoinedMemberFactory.create(), actor=owner.user)
    typed = code_format(voucher.code).replace("-", " ").lower()
    page = browser_page

    sign_in(page, f"{live_server.url}/portal/login/", "till@example.test", PASSWORD)
    page.get_by_role("link", name="Counter", exact=True).click()
    page.get_by_label("Voucher code").fill(typed)
    page.get_by_role("button", name="Check without redeeming").click()
    expect(page.get_by_text("Valid.")).to_be_visible()
    page.get_by_role("button", name="Redeem", exact=True).click()

    expect(page.get_by_text(f"Redeemed {code_format(voucher.code)}.")).to_be_visible()
    redemption = Redemption.objects.get(voucher=voucher)
    assert redemption.channel == RedemptionChannel.PORTAL
    expect(page.locator("table").get_by_text(redemption.ref)).to_be_visible()
