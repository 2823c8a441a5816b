"""The dashboard in a real browser at 1280 by 800: an owner with a quarter of figures reads the
charts, opens one as a table, filters by perk; axe finds nothing serious, and the page
breaks no rule of its Content-Security-Policy (pygal's style comes in by nonce)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from perks.catalog.models import PerkType
from perks.merchants.permissions import Role
from perks.vouchers.models import MerchantDay, PerkDay
from perks.vouchers.services.rollup import rollup_day, rollup_totals_recount
from tests.factories import LocationFactory, PerkFactory, StaffFactory, UserFactory
from tests.support.axe import serious_violations
from tests.support.browser import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def _quarter(merchant):
    """Ninety days of a coffee shop's figures, written into the rollup."""
    today = rollup_day(timezone.now())
    perks = [
        PerkFactory.create(merchant=merchant, title="Free flat white"),
        PerkFactory.create(merchant=merchant, title="Pastry with any coffee"),
        PerkFactory.create(
            merchant=merchant,
            title="Bike hire without deposit",
            type=PerkType.DEPOSIT_WAIVER,
            params={"max_amount": "300", "currency": "CNY"},
        ),
    ]
    locations = [LocationFactory.create(merchant=merchant, name=name) for name in ("Airport T2", "Old Town")]
    rows = []
    for days in range(90):
        day = today - timedelta(days=days)
        for n, perk in enumerate(perks):
            waiver = perk.type == PerkType.DEPOSIT_WAIVER
            for m, location in enumerate(locations):
                redeemed = (days * 7 + n * 3 + m * 5) % 11 + (4 if m == 0 else 0)
                rows.append(
                    PerkDay(
                        merchant=merchant,
                        perk=perk,
                        day=day,
                        location=location,
                        redeemed=redeemed,
                        reversed=redeemed // 9,
                        deposits_waived=redeemed if waiver else 0,
                        deposits_waived_amount=Decimal(150 * redeemed) if waiver else Decimal(0),
                    )
                )
            rows.append(PerkDay(merchant=merchant, perk=perk, day=day, issued=20 - 3 * n, claimed=12 - 3 * n))
        MerchantDay.objects.create(merchant=merchant, day=day, points_funded=400 + days)
    PerkDay.objects.bulk_create(rows)
    rollup_totals_recount(first=today - timedelta(days=90), last=today, merchant=merchant)
    return perks


def test_an_owner_reads_the_charts_opens_a_table_and_filters_by_perk(browser_page: Page, live_server):
    owner = StaffFactory.create(role=Role.OWNER, user=UserFactory.create(email="owner@example.test"))
    perks = _quarter(owner.merchant)
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None,
    )

    sign_in(page, f"{live_server.url}/portal/login/", "owner@example.test", PASSWORD)
    page.get_by_role("link", name="Dashboard").click()
    page.get_by_label("Period").select_option("90")
    page.get_by_role("button", name="Show").click()

    expect(page.get_by_role("img", name="Redemptions a day, by perk")).to_be_visible()
    expect(page.get_by_role("img", name="From issued to redeemed, per perk")).to_be_visible()
    expect(page.get_by_role("img", name="Top locations")).to_be_visible()
    screenshot(page, "portal-dashboard")
    assert serious_violations(page) == []

    page.get_by_text("“Top locations” as a table").click()
    table = page.get_by_role("table", name="Top locations")
    expect(table.get_by_role("rowheader", name="Airport T2")).to_be_visible()
    assert serious_violations(page) == []

    page.get_by_label("Perk", exact=True).select_option(perks[2].ref)
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("Perk: Bike hire without deposit.")).to_be_visible()
    expect(page.get_by_text("CNY")).to_be_visible()
    screenshot(page, "portal-dashboard-one-perk")
    assert refused == []
