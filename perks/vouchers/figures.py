"""The portal dashboard's reads: a merchant's figures over a range of days, from the daily
rollup only (perks.vouchers.services.rollup), never from the vouchers or redemptions, so
that their cost depends on the days and perks shown and not on how many redemptions made
them: a row a perk and day from `PerkDayTotal`, the top locations from `LocationDayTotal`
(from `PerkDay` when one perk is shown), one read of `MerchantDay`.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import F, QuerySet, Sum

from loyalty.scoring.selectors import HOLD_ACTIVE, holds_of_merchant
from perks.catalog.models import Perk, PerkType
from perks.merchants.models import Location, Merchant
from perks.vouchers.models import LocationDayTotal, MerchantDay, PerkDay, PerkDayTotal
from perks.vouchers.services.rollup import COUNTS, Figures

TOP_LOCATIONS = 5


@dataclass(frozen=True)
class Waived:
    """Deposits waived in one currency."""

    currency: str
    count: int
    amount: Decimal


@dataclass
class Dashboard:
    """What the dashboard shows for `days` (oldest first): net redemptions a day for each
    perk shown, each perk's totals, the top locations by net redemptions (None where no
    location was named), deposits waived by currency, points funded, holds in force."""

    days: list[date]
    perks: list[Perk]
    net_by_day: dict[int, list[int]] = field(default_factory=dict)
    totals: dict[int, Figures] = field(default_factory=dict)
    locations: list[tuple[Location | None, int]] = field(default_factory=list)
    waived: list[Waived] = field(default_factory=list)
    points_funded: int = 0
    holds_active: int = 0

    @property
    def total(self) -> Figures:
        figures = Figures()
        for perk_figures in self.totals.values():
            figures.add(perk_figures)
        return figures

    @property
    def net_redemptions(self) -> int:
        total = self.total
        return total.redeemed - total.reversed

    @property
    def is_empty(self) -> bool:
        total = self.total
        return not (total.issued or total.redeemed or total.reversed or self.points_funded)


def dashboard_figures(
    *, merchant: Merchant, first: date, last: date, perks: Sequence[Perk], perk: Perk | None = None
) -> Dashboard:
    """The merchant's figures from `first` to `last` (days, both included), of one perk or
    all; `perks` are the merchant's, with their minimum tiers, as the caller read them."""
    perks = [perk] if perk is not None else list(perks)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    figures = Dashboard(days=days, perks=perks)
    in_range = {"merchant": merchant, "day__gte": first, "day__lte": last}
    if perk is None:
        _by_day(figures, PerkDayTotal.objects.filter(**in_range))
        _by_location(figures, LocationDayTotal.objects.filter(**in_range))
        funded = MerchantDay.objects.filter(**in_range)
        figures.points_funded = funded.aggregate(points=Sum("points_funded"))["points"] or 0
    else:
        _by_day(figures, PerkDayTotal.objects.filter(**in_range, perk=perk))
        _by_location(figures, PerkDay.objects.filter(**in_range, perk=perk))
    _waived(figures)
    figures.holds_active = holds_of_merchant(merchant_ref=merchant.ref, state=HOLD_ACTIVE).count()
    return figures


def _by_day(figures: Dashboard, rows: QuerySet[PerkDayTotal]) -> None:
    index = {day: n for n, day in enumerate(figures.days)}
    known = {perk.pk for perk in figures.perks}
    for day, perk_id, *counts in rows.values_list("day", "perk_id", *COUNTS):
        if perk_id not in known:
            continue
        totals = figures.totals.setdefault(perk_id, Figures())
        totals.add(Figures(*counts))
        series = figures.net_by_day.setdefault(perk_id, [0] * len(figures.days))
        series[index[day]] += counts[COUNTS.index("redeemed")] - counts[COUNTS.index("reversed")]


def _by_location(figures: Dashboard, rows: QuerySet[PerkDay] | QuerySet[LocationDayTotal]) -> None:
    """The top locations by net redemptions, from rows with a location and those counts:
    `LocationDayTotal`'s, or one perk's `PerkDay`."""
    net = (
        rows.filter(redeemed__gt=0)
        .values_list("location_id")
        .annotate(net=Sum(F("redeemed") - F("reversed")))
        .order_by("-net", "location_id")
    )
    top = [(location_id, n) for location_id, n in net if n > 0][:TOP_LOCATIONS]
    names = Location.objects.in_bulk([location_id for location_id, _ in top if location_id is not None])
    figures.locations = [(names.get(location_id) if location_id else None, n) for location_id, n in top]


def _waived(figures: Dashboard) -> None:
    by_currency: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for perk in figures.perks:
        totals = figures.totals.get(perk.pk)
        if perk.type != PerkType.DEPOSIT_WAIVER or totals is None or not totals.deposits_waived:
            continue
        entry = by_currency[str(perk.params.get("currency", ""))]
        entry[0] += totals.deposits_waived
        entry[1] += totals.deposits_waived_amount
    figures.waived = [
        Waived(currency, int(count), amount) for currency, (count, amount) in sorted(by_currency.items())
    ]
