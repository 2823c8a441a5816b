"""An owner sets up a perk with an image in a real browser, and watches it appear in a
member's app; the perk form and the perk's page pass axe-core."""

import io

import pytest
from django.core.cache import cache
from django.urls import reverse
from PIL import Image
from playwright.sync_api import Page, expect

from perks.catalog.eligibility import STANDINGS_COUNT_KEY
from perks.catalog.models import Perk, PerkStatus
from perks.merchants.permissions import Role
from tests.factories import JoinedMemberFactory, StaffFactory, UserFactory
from tests.support.axe import axe_source, serious_violations
from tests.support.browser import htmx_ready, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 360), (176, 98, 52)).save(buffer, format="PNG")
    return buffer.getvalue()


def _loaded(page: Page, image) -> None:
    """Visible is not decoded: wait for the image itself (the test fails if it never loads)."""
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=image.element_handle())


def test_an_owner_sets_up_a_perk_with_an_image_and_watches_it_appear_in_the_app(
    browser_page: Page, live_server, media
):
    source = axe_source()
    cache.delete(STANDINGS_COUNT_KEY)  # counted once in a while: afresh for this test's members
    owner = StaffFactory.create(role=Role.OWNER, user=UserFactory.create(email="owner@example.test"))
    JoinedMemberFactory.create(user=UserFactory.create(email="mei@example.test"))
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})

    sign_in(page, f"{live_server.url}/portal/login/", "owner@example.test", PASSWORD)
    page.get_by_role("link", name="Perks", exact=True).click()
    expect(page.get_by_text("No perks yet.")).to_be_visible()
    page.get_by_role("link", name="Create a perk").click()
    htmx_ready(page)

    # The type comes first; changing it swaps in that type's fields.
    page.get_by_label("Type of perk").select_option(label="Discount")
    expect(page.get_by_label("Percent off (optional)")).to_be_visible(timeout=15_000)
    page.get_by_label("Type of perk").select_option(label="Free item")
    expect(page.get_by_label("Item", exact=True)).to_be_visible(timeout=15_000)
    page.get_by_label("Title", exact=True).fill("Free flat white")
    page.get_by_label("Title in Chinese (optional)").fill("免费馥芮白")
    page.get_by_label("Item", exact=True).fill("Flat white")
    page.get_by_label("Image (optional)").set_input_files(
        {"name": "flat-white.png", "mimeType": "image/png", "buffer": _png()}
    )
    preview = page.get_by_alt_text("The image you chose")
    expect(preview).to_be_visible()
    _loaded(page, preview)
    screenshot(page, "perk-1-form")
    assert serious_violations(page, source) == []

    page.get_by_role("button", name="Create and publish").click()

    expect(page.get_by_role("heading", name="Free flat white", level=1)).to_be_visible()
    expect(page.get_by_text("The perk is created.")).to_be_visible()
    perk = Perk.objects.get(merchant=owner.merchant)
    assert perk.status == PerkStatus.ACTIVE
    assert perk.title_zh == "免费馥芮白"
    _loaded(page, page.get_by_alt_text("The perk’s image"))
    expect(page.get_by_text("1 member meets this perk's minimum today")).to_be_visible()
    screenshot(page, "perk-2-page")
    assert serious_violations(page, source) == []

    # The member, on their phone, finds it with its image among the perks.
    page.context.clear_cookies()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, f"{live_server.url}/app/login/", "mei@example.test", PASSWORD)
    page.goto(f"{live_server.url}{reverse('app:perks')}")
    expect(page.get_by_text("Free flat white")).to_be_visible()
    art = page.locator(f"img.perk-art[src*='{perk.image.name.rsplit('.', 1)[0]}']")
    expect(art).to_be_visible()
    _loaded(page, art)
    screenshot(page, "perk-3-in-the-app")
