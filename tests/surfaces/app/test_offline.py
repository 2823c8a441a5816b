"""The app without a connection, in a real browser on a phone-sized screen: after one visit online, the
wallet and the vouchers the member opened open offline, QR code and all, and say they are
saved copies; a page never opened is the offline page, not the browser's dinosaur; the
pass, whose code rotates, says it needs a connection; signing out forgets them all."""

import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from perks.vouchers.codes import code_format
from tests.factories import JoinedMemberFactory, PerkFactory, UserFactory, VoucherFactory
from tests.support.browser import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"
SAVED = "You're offline — showing your saved wallet."
OFFLINE_PAGE = "This page needs a connection"
KEPT_CACHE = "perkline-kept"


def _controlled(page: Page) -> None:
    """Wait until the service worker answers this page's requests. It installs from the
    first page the app shows, the sign-in page, and takes over the pages open then; a page
    whose loading began before that is left to the browser, so it is loaded once more."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    if page.evaluate("navigator.serviceWorker.controller === null"):
        page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15_000)


def _qr_decoded(page: Page) -> None:
    qr = page.locator(".voucher-qr img")
    expect(qr).to_be_visible()
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=qr.element_handle())


def _until(page: Page, done: Callable[[], bool], what: str) -> None:
    """Poll from here: `wait_for_function` takes the promise the Cache API gives for true."""
    deadline = time.monotonic() + 15
    while not done():
        assert time.monotonic() < deadline, f"never {what}"
        page.wait_for_timeout(100)


def _kept_urls(page: Page) -> list[str]:
    return page.evaluate(
        """async (name) => {
            if (!(await caches.has(name))) return [];
            const cache = await caches.open(name);
            return (await cache.keys()).map((request) => new URL(request.url).pathname);
        }""",
        KEPT_CACHE,
    )


def test_the_wallet_and_opened_vouchers_open_offline_until_signing_out(browser_page: Page, live_server):
    member = JoinedMemberFactory.create(user=UserFactory.create(email="mei@example.test"))
    opened = VoucherFactory.create(member=member, perk=PerkFactory.create(title="Free flat white"))
    never_opened = VoucherFactory.create(member=member, perk=PerkFactory.create(title="Lounge pass"))
    page = browser_page
    app = f"{live_server.url}/app"

    sign_in(page, f"{app}/login/", "mei@example.test", PASSWORD)
    _controlled(page)
    page.goto(f"{app}/wallet/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.goto(f"{app}/wallet/{opened.pk}/")
    _qr_decoded(page)
    screenshot(page, "offline-1-voucher-online")
    kept = _kept_urls(page)
    assert {"/app/wallet/", f"/app/wallet/{opened.pk}/", f"/app/wallet/{opened.pk}/qr.svg"} <= set(kept)
    assert f"/app/wallet/{never_opened.pk}/" not in kept

    page.context.set_offline(True)
    page.reload()
    expect(page.get_by_text(SAVED)).to_be_visible()
    expect(page.get_by_text(code_format(opened.code))).to_be_visible()
    _qr_decoded(page)
    screenshot(page, "offline-2-voucher-offline")

    page.goto(f"{app}/wallet/")
    expect(page.get_by_text(SAVED)).to_be_visible()
    expect(page.get_by_role("link", name="Free flat white")).to_be_visible()
    screenshot(page, "offline-3-wallet-offline")

    page.goto(f"{app}/wallet/{never_opened.pk}/")
    expect(page.get_by_role("heading", name=OFFLINE_PAGE)).to_be_visible()
    expect(page.get_by_text("Your wallet and vouchers you've opened are available.")).to_be_visible()
    screenshot(page, "offline-4-never-opened")
    page.goto(f"{app}/perks/")
    expect(page.get_by_role("heading", name=OFFLINE_PAGE)).to_be_visible()
    # The offline page's way back to what works without a connection.
    page.get_by_role("link", name="Open your wallet").click()
    expect(page.get_by_text(SAVED)).to_be_visible()

    page.context.set_offline(False)
    page.get_by_role("button", name="You're back online: load the latest").click()
    expect(page.get_by_role("heading", name="Wallet")).to_be_visible()
    expect(page.locator(".offline-banner")).to_be_hidden()
    page.goto(f"{app}/pass/")
    expect(page.locator("#pass-qr svg, #pass-qr img").first).to_be_visible()
    page.context.set_offline(True)
    expect(page.get_by_text("Needs a connection", exact=False).first).to_be_visible()
    screenshot(page, "offline-5-pass-needs-a-connection")
    page.reload()  # the pass is never kept: its code would be stale
    expect(page.get_by_role("heading", name=OFFLINE_PAGE)).to_be_visible()

    page.context.set_offline(False)
    page.goto(f"{app}/me/")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("E-mail")).to_be_visible()
    _until(page, lambda: _kept_urls(page) == [], "forgot the kept pages")
    page.context.set_offline(True)
    page.goto(f"{app}/wallet/{opened.pk}/")
    expect(page.get_by_role("heading", name=OFFLINE_PAGE)).to_be_visible()
    expect(page.get_by_text(code_format(opened.code))).to_have_count(0)
    screenshot(page, "offline-6-signed-out")


def test_a_voucher_opened_before_the_worker_was_there_is_kept_too(browser_page: Page, live_server):
    """The first page a member opens on a phone may be a voucher (from a link, signed in
    already): the worker, once installed, keeps that page and its QR code."""
    member = JoinedMemberFactory.create(user=UserFactory.create(email="li@example.test"))
    voucher = VoucherFactory.create(member=member)
    app = f"{live_server.url}/app"
    sign_in(browser_page, f"{app}/login/", "li@example.test", PASSWORD)
    browser = browser_page.context.browser
    assert browser is not None
    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        locale="en-GB",
        storage_state=browser_page.context.storage_state(),
    )
    page = phone.new_page()

    page.goto(f"{app}/wallet/{voucher.pk}/")
    assert page.evaluate("navigator.serviceWorker.controller") is None
    _qr_decoded(page)
    voucher_pages = {f"/app/wallet/{voucher.pk}/", f"/app/wallet/{voucher.pk}/qr.svg"}
    _until(page, lambda: voucher_pages <= set(_kept_urls(page)), "kept the voucher page and its QR code")
    screenshot(page, "offline-7-first-page-a-voucher")

    phone.set_offline(True)
    page.reload()
    expect(page.get_by_text(SAVED)).to_be_visible()
    _qr_decoded(page)
    phone.close()
