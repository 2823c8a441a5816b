"""The server time of the portal's dashboard for a merchant with ten million redemptions,
against the floor of the same page's SQL run bare.

The merchant: forty perks (a tenth of them deposit waivers) at twenty-five locations, with a
year of daily rollup rows (a row a perk, location and day; about 27 redemptions each, so
ten million in all at full scale), a row a perk and day of vouchers issued, and the points
it funded each day. The rows are written into the rollup directly (COPY on PostgreSQL),
and their day totals by perk and by location summed from them as the recount does: what
is measured is reading them, and the rollup is what makes that independent of how many
redemptions there were.

The page is requested in-process through Django's whole stack with production settings,
as bench/app_pages.py does, for the default 30 days, for 90 days and for 90 days of one
perk: p95 each. Its floor is the page's own SQL, captured once and replayed on a bare
psycopg cursor as many times: p95. `value` is the slowest p95; the target is 150 ms.
Charts are drawn once for the same figures and then come from the cache
(surfaces/portal/charts.py), as they would for a merchant looking again at figures that have not
moved; the figure "charts drawn afresh" is the 90 days with none from the cache.
"""

import io
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache.backends.dummy import DummyCache
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from bench.result import BenchResult
from bench.support.pages import page_timed, served_as, slowest_headline
from bench.support.server import bench_database
from perks.catalog.models import Perk, PerkStatus
from perks.catalog.services import perk_create
from perks.merchants.models import Location, Merchant
from perks.merchants.services import location_create, merchant_create
from perks.vouchers.models import LocationDayTotal, MerchantDay, PerkDay, PerkDayTotal
from perks.vouchers.services.rollup import COUNTS, PERK_DAY, rollup_day, rollup_totals_recount
from surfaces.portal import charts

SCALE: dict[str, dict[str, Any]] = {
    "quick": {"perks": 10, "locations": 5, "days": 120, "requests": 40, "warmup": 5},
    "full": {"perks": 40, "locations": 25, "days": 365, "requests": 300, "warmup": 20},
}
TARGET_MS = 150.0
REDEMPTIONS_A_ROW = 27  # on average: 40 × 25 × 365 rows of it make ten million
WAIVER_EVERY = 10
COLUMNS = PERK_DAY.key + COUNTS  # a PerkDay row as _rows writes it


def run(scale: str) -> BenchResult:
    config = SCALE[scale]
    timed = {"requests": config["requests"], "warmup": config["warmup"]}
    with bench_database():
        owner, merchant, perks, redemptions = _merchant_with_history(config)
        slug = merchant.slug
        url = reverse("portal:dashboard", args=[slug])
        urls = {
            "30 days": url,
            "90 days": f"{url}?period=90",
            "90 days, one perk": f"{url}?period=90&perk={perks[0].ref}",
        }
        with served_as(owner) as client:
            rows = {name: page_timed(client, page_url, **timed) for name, page_url in urls.items()}
            with _charts_drawn_afresh():
                rows["90 days, charts drawn afresh"] = page_timed(client, urls["90 days"], **timed)
    headline = slowest_headline(rows, among=[name for name in rows if name != "90 days, charts drawn afresh"])
    slowest = headline.pop("slowest")
    return BenchResult(
        name="portal_dashboard",
        metric="server time of the portal dashboard, p95 (in-process)",
        unit="ms",
        **headline,
        scale={**config, "redemptions": redemptions, "target_ms": TARGET_MS},
        notes=(
            f"slowest: {slowest}; {connection.vendor}; {redemptions:,} redemptions in "
            f"{config['perks'] * config['locations'] * config['days']:,} rollup rows; each page "
            f"{config['requests']} times after {config['warmup']} to warm up."
        ),
        figures=dict(rows),
    )


@contextmanager
def _charts_drawn_afresh() -> Iterator[None]:
    """No chart from the cache: what a page costs the first time its figures are drawn."""
    kept = charts.cache
    charts.cache = DummyCache("", {})
    try:
        yield
    finally:
        charts.cache = kept


def _merchant_with_history(config: dict[str, Any]) -> tuple[Any, Merchant, list[Perk], int]:
    """The owner, the merchant, its perks and how many redemptions its rollup holds."""
    rng = random.Random(21)  # nosec B311  # seeded for repeatable benchmark data
    owner = get_user_model().objects.create_user(username="owner@dashboard.bench")
    merchant = merchant_create(name="Jade Road Car Rental", category="car_rental", owner=owner)
    perks = [_perk(merchant, owner, n) for n in range(config["perks"])]
    locations = [
        location_create(merchant=merchant, actor=owner, name=f"Branch {n}", code=f"BR{n:03}")
        for n in range(config["locations"])
    ]
    today = rollup_day(timezone.now())
    days = [today - timedelta(days=n) for n in range(config["days"])]
    rows, redemptions = _rows(merchant, perks, locations, days, rng)
    _load(rows)
    rollup_totals_recount(first=days[-1], last=today, merchant=merchant)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (PerkDay, PerkDayTotal, LocationDayTotal):
                cursor.execute(f"ANALYZE {model._meta.db_table}")
    MerchantDay.objects.bulk_create(
        MerchantDay(merchant=merchant, day=day, points_funded=rng.randint(2_000, 9_000)) for day in days
    )
    return owner, merchant, perks, redemptions


def _perk(merchant: Merchant, owner: Any, n: int) -> Perk:
    if n % WAIVER_EVERY == 0:
        kind, params = "deposit_waiver", {"max_amount": "3000", "currency": "CNY"}
    else:
        kind, params = "discount", {"percent": str(5 + n % 20), "currency": "CNY"}
    return perk_create(
        merchant=merchant,
        actor=owner,
        type=kind,
        title=f"Perk {n:02}",
        description="For the benchmark.",
        params=params,
        status=PerkStatus.ACTIVE,
    )


def _rows(
    merchant: Merchant, perks: list[Perk], locations: list[Location], days: list[date], rng: random.Random
) -> tuple[list[tuple[Any, ...]], int]:
    rows: list[tuple[Any, ...]] = []
    redemptions = 0
    for day in days:
        for perk in perks:
            waiver = perk.type == "deposit_waiver"
            issued = rng.randint(20, 80)
            rows.append((merchant.pk, day, perk.pk, None, issued, issued // 2, 0, 0, 0, 0))
            for location in locations:
                redeemed = rng.randint(1, 2 * REDEMPTIONS_A_ROW - 1)
                reversed_ = redeemed // 25
                net = redeemed - reversed_
                rows.append(
                    (
                        merchant.pk,
                        day,
                        perk.pk,
                        location.pk,
                        0,
                        0,
                        redeemed,
                        reversed_,
                        net if waiver else 0,
                        net * 1500 if waiver else 0,
                    )
                )
                redemptions += redeemed
    return rows, redemptions


def _load(rows: list[tuple[Any, ...]]) -> None:
    """The rows into the rollup: COPY on PostgreSQL, as a bulk insert elsewhere."""
    if connection.vendor != "postgresql":
        PerkDay.objects.bulk_create(
            (PerkDay(**dict(zip(COLUMNS, row, strict=True))) for row in rows), batch_size=5000
        )
        return
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(r"\N" if value is None else str(value) for value in row) + "\n")
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {PerkDay._meta.db_table} ({', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        copy.write(buffer.getvalue())
