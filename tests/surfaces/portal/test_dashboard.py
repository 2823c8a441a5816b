"""The portal's dashboard: figures and charts from the daily rollup, each chart an image with
a name, a sentence and a table; filters by period and perk; an empty state that says what
to do."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from perks.catalog.models import PerkType
from perks.merchants.permissions import Role, Scope
from perks.merchants.services import api_key_create
from perks.vouchers.models import MerchantDay, PerkDay
from perks.vouchers.services import voucher_issue, voucher_redeem
from perks.vouchers.services.rollup import rollup_day, rollup_recount_recent, rollup_totals_recount
from perks.vouchers.services.side_effects import redemption_side_effects_due
from tests.factories import (
    HoldFactory,
    JoinedMemberFactory,
    LocationFactory,
    MerchantFactory,
    PerkFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    return MerchantFactory.create(name="Harbour Coffee")


def _today():
    return rollup_day(timezone.now())


def _signed_in(client, merchant, role=Role.OWNER):
    client.force_login(StaffFactory.create(merchant=merchant, role=role).user)


def _page(client, merchant, **query):
    response = client.get(reverse("portal:dashboard", args=[merchant.slug]), query)
    assert response.status_code == 200
    return response, response.content.decode()


def _table(body, chart_id):
    figure = re.search(rf'<figure class="chart" id="{chart_id}".*?</figure>', body, re.S)
    assert figure is not None, f"no chart {chart_id}"
    table = re.search(r"<details.*?<table>(.*?)</table>", figure.group(), re.S)
    assert table is not None, f"chart {chart_id} has no table view"
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
    ]


@pytest.mark.parametrize("role", Role.values)
def test_every_role_sees_the_figures_and_charts_each_with_a_name_a_sentence_and_a_table(
    client, merchant, role
):
    staff = StaffFactory.create(merchant=merchant, role=Role.OWNER)
    key = api_key_create(merchant=merchant, actor=staff.user, name="Till", scopes=Scope.values).key
    coffee = PerkFactory.create(merchant=merchant, title="Free coffee")
    waiver = PerkFactory.create(
        merchant=merchant,
        title="No deposit",
        type=PerkType.DEPOSIT_WAIVER,
        params={"max_amount": "300.00", "currency": "CNY"},
    )
    airport = LocationFactory.create(merchant=merchant, name="Airport T2")
    for perk, amount in ((coffee, None), (coffee, None), (waiver, "120.00")):
        voucher = voucher_issue(perk=perk, member=JoinedMemberFactory.create(), actor=staff.user)
        voucher_redeem(
            merchant=merchant,
            actor=key,
            code=voucher.code,
            location_code=airport.code,
            amount=amount,
            currency="CNY" if amount else None,
        )
    voucher_issue(perk=coffee, member=JoinedMemberFactory.create(), actor=staff.user)
    redemption_side_effects_due()
    rollup_recount_recent()
    HoldFactory.create(merchant_ref=merchant.ref, merchant_name=merchant.name)
    _signed_in(client, merchant, role)

    response, body = _page(client, merchant)

    assert "No redemptions yet" not in body
    figures = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))
    assert "3 Redemptions" in figures
    assert "1 Deposits waived 120.00 CNY" in figures
    assert "1 Active holds" in figures
    for chart_id in ("by-perk", "by-tier", "funnel", "locations"):
        svg = re.search(rf'<figure class="chart" id="{chart_id}".*?<svg ([^>]*)>(.*?)</svg>', body, re.S)
        assert svg is not None
        assert 'role="img"' in svg.group(1)
        assert f'aria-labelledby="{chart_id}-title {chart_id}-desc"' in svg.group(1)
        assert re.search(
            rf'<title id="{chart_id}-title">[^<]+</title><desc id="{chart_id}-desc">[^<]+</desc>',
            svg.group(2),
        )
        assert "<script" not in svg.group(2)
    assert ["Free coffee", "3", "0", "2", "0"] in _table(body, "funnel")
    assert ["No deposit", "1", "0", "1", "0"] in _table(body, "funnel")
    assert _table(body, "locations")[1:] == [["Airport T2", "3"]]
    today_row = _table(body, "by-perk")[-1]
    assert today_row[1:] == ["2", "1", "3"]
    # pygal's style is let in by the request's nonce, and nothing else inline.
    nonce = _match(r"'nonce-([^']+)'", response["Content-Security-Policy"])
    assert re.findall(r'<style nonce="([^"]+)"', body) == [nonce] * 4


def test_a_new_merchant_is_told_how_to_get_figures(client, merchant):
    _signed_in(client, merchant, Role.MANAGER)

    _response, body = _page(client, merchant)

    assert "No redemptions yet" in body
    assert reverse("portal:campaigns", args=[merchant.slug]) in body
    assert reverse("portal:counter", args=[merchant.slug]) in body
    assert "<svg" not in body


def _rows(merchant, perk, *days_ago, redeemed=1):
    for days in days_ago:
        PerkDay.objects.create(
            merchant=merchant, perk=perk, day=_today() - timedelta(days=days), redeemed=redeemed
        )
    _totals(merchant)


def _totals(merchant):
    """The day totals of the PerkDay rows a test wrote directly."""
    rollup_totals_recount(first=_today() - timedelta(days=366), last=_today(), merchant=merchant)


def test_the_period_and_the_perk_filter_the_figures(client, merchant):
    coffee = PerkFactory.create(merchant=merchant, title="Free coffee")
    cake = PerkFactory.create(merchant=merchant, title="Free cake")
    _rows(merchant, coffee, 0, 1, 60)
    _rows(merchant, cake, 2, redeemed=5)
    MerchantDay.objects.create(merchant=merchant, day=_today(), points_funded=250)
    _signed_in(client, merchant)

    def total(**query):
        _response, body = _page(client, merchant, **query)
        return int(_match(r'<p class="figure-value">(\d+)</p><p>Redemptions', body))

    assert total() == 7
    assert total(period="90") == 8
    assert total(period="90", perk=coffee.ref) == 3
    start, end = (_today() - timedelta(days=61)).isoformat(), (_today() - timedelta(days=59)).isoformat()
    assert total(period="custom", start=start, end=end) == 1
    _response, body = _page(client, merchant, period="90", perk=cake.ref)
    assert len(_table(body, "by-perk")) == 91  # a header and a row a day
    assert "Free coffee" not in "".join(cell for row in _table(body, "funnel") for cell in row)


def test_a_wrong_custom_range_says_what_to_fix_and_shows_the_last_30_days(client, merchant):
    _signed_in(client, merchant)
    end = (_today() - timedelta(days=3)).isoformat()

    _response, body = _page(client, merchant, period="custom", start=_today().isoformat(), end=end)

    assert "The last day comes on or after the first." in body
    assert "No redemptions yet" not in body  # a filter was asked for: nothing in this period
    assert "Nothing in this period" in body


def test_another_merchants_figures_never_show(client, merchant):
    other = MerchantFactory.create()
    _rows(other, PerkFactory.create(merchant=other, title="Their perk"), 0, redeemed=9)
    _signed_in(client, merchant)

    _response, body = _page(client, merchant)

    assert "Their perk" not in body
    assert "No redemptions yet" in body


def test_deposit_values_are_summed_per_currency(client, merchant):
    for currency, amount in (("CNY", "100.50"), ("CNY", "20"), ("HKD", "300")):
        perk = PerkFactory.create(
            merchant=merchant,
            type=PerkType.DEPOSIT_WAIVER,
            params={"max_amount": "500", "currency": currency},
        )
        PerkDay.objects.create(
            merchant=merchant,
            perk=perk,
            day=_today(),
            redeemed=1,
            deposits_waived=1,
            deposits_waived_amount=Decimal(amount),
        )
    _totals(merchant)
    _signed_in(client, merchant)

    _response, body = _page(client, merchant)

    assert "120.50 CNY · 300.00 HKD" in body


def _match(pattern: str, text: str) -> str:
    """The first group of `pattern` in `text`, which must be there."""
    found = re.search(pattern, text)
    assert found is not None, pattern
    return found.group(1)
