"""Exports, webhooks and the audit trail in a real browser at 1280 by 800: a manager runs a
campaign, downloads its codes and then the redemptions; an owner tests a webhook endpoint and
reads its delivery and the trail. axe-core finds nothing serious on any of these pages."""

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from loyalty.scoring.models import Tier
from perks.merchants.models import DeliveryStatus, WebhookDelivery
from perks.merchants.permissions import Role
from perks.vouchers.codes import code_format
from perks.vouchers.models import Voucher
from perks.vouchers.services import voucher_redeem
from tests.factories import LocationFactory, PerkFactory, StaffFactory, UserFactory
from tests.perks.merchants.test_webhook_delivery import wait_until
from tests.perks.vouchers.campaign_support import members_in
from tests.support.axe import serious_violations
from tests.support.browser import screenshot, sign_in
from tests.support.links import linked
from tests.support.receiver import Receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def _desk(page: Page) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})


def _no_serious_violations(page: Page, name: str) -> None:
    screenshot(page, name)
    found = serious_violations(page)
    assert not found, "\n".join(str(violation) for violation in found)


def _csv_of(download) -> list[list[str]]:
    return list(csv.reader(io.StringIO(Path(download.path()).read_text())))


def test_a_manager_runs_a_campaign_and_exports_its_codes_and_the_redemptions(
    browser_page: Page, live_server, celery_worker
):
    owner = StaffFactory.create(role=Role.OWNER)
    merchant = owner.merchant
    StaffFactory.create(
        merchant=merchant, role=Role.MANAGER, user=UserFactory.create(email="mo@example.test")
    )
    PerkFactory.create(merchant=merchant, title="Free flat white")
    airport = LocationFactory.create(merchant=merchant, name="Airport T2")
    regular, _stranger = members_in("gold", 2)
    linked(regular, merchant)
    tier = Tier.objects.get(slug="gold")
    page = browser_page
    _desk(page)

    sign_in(page, f"{live_server.url}/portal/login/", "mo@example.test", PASSWORD)
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_label("Perk").select_option(label="Free flat white")
    page.get_by_label("Members of this tier and above").select_option(label=tier.name)
    page.get_by_role("button", name="Start the campaign").click()
    expect(page.get_by_text("2 issued, 0 skipped of 2 members")).to_be_visible(timeout=60_000)
    screenshot(page, "portal-manager-campaign-done")
    with page.expect_download() as codes:
        page.get_by_role("link", name="Download the codes (CSV)").click()
    code_rows = _csv_of(codes.value)

    mine = Voucher.objects.get(member=regular)
    assert [code_format(mine.code), regular.ref, "issued"] in code_rows
    redemption = voucher_redeem(
        merchant=merchant, actor=owner.user, code=mine.code, location_code=airport.code
    )

    page.get_by_role("link", name="Exports").click()
    _no_serious_violations(page, "portal-manager-exports")
    with page.expect_download() as redeemed:
        page.get_by_role("button", name="Download redemptions").click()
    rows = _csv_of(redeemed.value)

    assert rows[0][:5] == ["ref", "time", "perk", "location", "voucher_code"]
    assert [row[0] for row in rows[1:]] == [redemption.ref]
    assert rows[1][2:6] == ["Free flat white", "Airport T2", code_format(mine.code), regular.ref]
    screenshot(page, "portal-manager-exported")


def test_an_owner_tests_a_webhook_reads_its_delivery_and_the_trail(
    browser_page: Page, live_server, celery_worker
):
    StaffFactory.create(
        role=Role.OWNER, user=UserFactory.create(email="ann@example.test", first_name="Ann", last_name="Lee")
    )
    page = browser_page
    _desk(page)

    with Receiver([503, 200]).running() as receiver:
        sign_in(page, f"{live_server.url}/portal/login/", "ann@example.test", PASSWORD)
        page.get_by_role("link", name="Webhooks").click()
        _no_serious_violations(page, "portal-owner-webhooks-empty")
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("voucher.redeemed").check()
        page.get_by_role("button", name="Add endpoint").click()
        expect(page.get_by_text("Signing secret for")).to_be_visible()
        page.get_by_role("button", name="Send a test event").click()
        delivery = WebhookDelivery.objects.get()
        wait_until(lambda: WebhookDelivery.objects.get(pk=delivery.pk).attempt_count >= 1)
        wait_until(lambda: delivery.attempts.filter(finished_at__isnull=False).exists())
        page.reload()
        expect(page.get_by_text("HTTP 503")).to_be_visible()
        _no_serious_violations(page, "portal-owner-delivery-503")

    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING
    page.get_by_role("link", name="Back to webhooks").click()
    _no_serious_violations(page, "portal-owner-webhooks")
    page.get_by_role("link", name="Audit trail").click()
    expect(page.get_by_text(f"Ann Lee sent a test event to {receiver.url}")).to_be_visible()
    expect(page.get_by_text(f"Ann Lee added the webhook endpoint {receiver.url}")).to_be_visible()
    _no_serious_violations(page, "portal-owner-audit")
    page.get_by_label("What").select_option(label="Webhook test sent")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("[data-sentence]")).to_have_count(1)
