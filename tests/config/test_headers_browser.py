"""The Content-Security-Policy and Permissions-Policy as a browser applies them: the pages
a member and a cashier use most, the card form on Stripe.js and the API docs load and work
without one violation, and a script slipped into a page does not run."""

from collections.abc import Iterator

import pytest
from django.urls import reverse
from playwright.sync_api import ConsoleMessage, Page, expect

from perks.merchants.permissions import Role
from perks.vouchers.codes import code_format
from tests.factories import JoinedMemberFactory, MerchantFactory, StaffFactory, UserFactory, VoucherFactory
from tests.support.billing import deposit_asked
from tests.support.browser import sign_in
from tests.support.links import linked

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"
# What Chromium writes to the console when a policy refuses something, or cannot be read.
POLICY_COMPLAINTS = (
    "Content Security Policy",
    "Content-Security-Policy",
    "Permissions-Policy",
    "Permissions policy",
)


@pytest.fixture
def complaints(browser_page: Page) -> Iterator[list[str]]:
    """Every console message about a policy while the test runs; none may be left at the end."""
    heard: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if any(phrase in message.text for phrase in POLICY_COMPLAINTS):
            heard.append(f"{browser_page.url}: {message.text}")

    browser_page.on("console", listen)
    yield heard
    assert heard == []


def test_the_members_pages_break_no_policy(browser_page: Page, live_server, complaints):
    member = JoinedMemberFactory.create(user=UserFactory.create(email="mei@example.test"))
    voucher = VoucherFactory.create(member=member)
    page = browser_page

    sign_in(page, f"{live_server.url}/app/login/", "mei@example.test", PASSWORD)
    expect(page.get_by_role("link", name="Wallet")).to_be_visible()
    page.goto(f"{live_server.url}{reverse('app:voucher', args=[voucher.pk])}")
    expect(page.get_by_text(code_format(voucher.code))).to_be_visible()
    qr = page.get_by_alt_text("QR code of this voucher")
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=qr.element_handle())
    page.goto(f"{live_server.url}{reverse('app:pass')}")
    expect(page.locator("#pass-qr svg")).to_be_visible()


def test_the_counter_breaks_no_policy(browser_page: Page, live_server, complaints):
    staff = StaffFactory.create(role=Role.CASHIER, user=UserFactory.create(email="li@example.test"))
    voucher = VoucherFactory.create(perk__merchant=staff.merchant)
    page = browser_page

    sign_in(page, f"{live_server.url}/portal/login/", "li@example.test", PASSWORD)
    page.goto(f"{live_server.url}{reverse('portal:counter', args=[staff.merchant.slug])}")
    page.get_by_label("Voucher code").fill(code_format(voucher.code))
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_text("Valid.")).to_be_visible()


def test_the_api_docs_break_no_policy(browser_page: Page, live_server, complaints):
    page = browser_page

    page.goto(f"{live_server.url}{reverse('api-docs')}")

    expect(page.get_by_text("Perkline partner API")).to_be_visible()


def test_the_card_form_loads_stripe_js_from_where_the_server_talks_to_stripe(
    browser_page: Page, live_server, stripe_on, complaints
):
    rental = MerchantFactory.create(name="Jade Road Car Rental")
    member = JoinedMemberFactory.create(user=UserFactory.create(email="mei@example.test"))
    linked(member, rental)
    deposit_asked(rental, member)
    page = browser_page

    sign_in(page, f"{live_server.url}/app/login/", "mei@example.test", PASSWORD)
    page.goto(f"{live_server.url}{reverse('app:deposits')}")

    page.wait_for_function("() => typeof window.Stripe === 'function'")


def test_a_script_slipped_into_a_page_does_not_run(browser_page: Page, live_server):
    """What an injection would write (the page's own markup, not a file of this origin) is
    refused by the policy."""
    page = browser_page
    page.goto(f"{live_server.url}{reverse('app:login')}")

    ran = page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.head.append(script);
            const styled = document.createElement("style");
            styled.textContent = "body { display: none }";
            document.head.append(styled);
            return [window.injected === true, getComputedStyle(document.body).display === "none"];
        }"""
    )

    assert ran == [False, False]
