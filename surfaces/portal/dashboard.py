"""The merchant's landing page: what its perks did over a period, as figures and charts.

Every figure comes from the daily rollup (perks.vouchers.figures), read from the replica
where there is one; the charts are pygal's SVG (surfaces.portal.charts), each with its
table. Figures of today move as redemptions are recorded and within minutes for issuing
(beat's recount).
"""

from dataclasses import dataclass

import pygal
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from loyalty.core.replica import lag_tolerant
from perks.catalog.selectors import perks_of_merchant
from perks.catalog.wording import perk_title
from perks.vouchers.figures import Dashboard, dashboard_figures
from perks.vouchers.services.rollup import rollup_day
from surfaces.portal.access import StaffRequest, may_use, portal_page
from surfaces.portal.charts import Chart, ChartSpec, Table, chart_styles_allowed, charts_make
from surfaces.portal.dashboard_forms import DashboardFilterForm

# Perks drawn as series of their own; the rest are summed as one.
SERIES = 7


@require_GET
@portal_page(permission=None)
@chart_styles_allowed
@lag_tolerant
def dashboard(request: StaffRequest) -> HttpResponse:
    merchant = request.merchant
    perks = list(perks_of_merchant(merchant=merchant).order_by("title", "pk"))
    form = DashboardFilterForm(request.GET or None, perks=perks, today=rollup_day(timezone.now()))
    first, last = form.period_days()
    perk = form.chosen_perk()
    figures = dashboard_figures(merchant=merchant, first=first, last=last, perks=perks, perk=perk)
    context = {
        "form": form,
        "figures": figures,
        "first": first,
        "last": last,
        "filtered": bool(request.GET),
        "charts": [] if figures.is_empty else _charts(request, figures),
        "links": _links(request),
    }
    return render(request, "portal/dashboard.html", context)


def _links(request: StaffRequest) -> dict[str, str]:
    """The pages the empty state and the figures point to, those this person may open and
    that exist (the perks page comes with its own change)."""
    links = {}
    for name in ("perks", "campaigns", "counter", "holds"):
        try:
            url = reverse(f"portal:{name}", args=[request.merchant.slug])
        except NoReverseMatch:
            continue
        if may_use(request, f"portal:{name}"):
            links[name] = url
    return links


def _charts(request: StaffRequest, figures: Dashboard) -> list[Chart]:
    days = _DayNames(
        [date_format(day, "n/j") for day in figures.days], [date_format(day) for day in figures.days]
    )
    return charts_make(
        request,
        [
            _by_day_chart(
                figures,
                days,
                id="by-perk",
                title=_("Redemptions a day, by perk"),
                groups=_perk_groups(figures),
            ),
            _by_day_chart(
                figures,
                days,
                id="by-tier",
                title=_("Redemptions a day, by the tier a perk is for"),
                groups=_tier_groups(figures),
            ),
            _funnel_chart(figures),
            _locations_chart(figures),
        ],
    )


@dataclass(frozen=True)
class _DayNames:
    """Each day of the period named short (the axis) and in full (the tables)."""

    short: list[str]
    full: list[str]


Group = tuple[str, list[int]]


def _perk_groups(figures: Dashboard) -> list[Group]:
    """The perks with the most redemptions, each a series, then the others as one."""
    ranked = sorted(
        (perk for perk in figures.perks if perk.pk in figures.net_by_day),
        key=lambda perk: -sum(figures.net_by_day[perk.pk]),
    )
    groups = [(perk_title(perk), figures.net_by_day[perk.pk]) for perk in ranked[:SERIES]]
    rest = [figures.net_by_day[perk.pk] for perk in ranked[SERIES:]]
    if rest:
        groups.append((_("Other perks"), [sum(day) for day in zip(*rest, strict=True)]))
    return groups


def _tier_groups(figures: Dashboard) -> list[Group]:
    """Perks grouped by their minimum tier, lowest first; perks open to any tier (or set by
    a score) as one group."""
    language = get_language() or "en"
    by_tier: dict[tuple[int, str], list[int]] = {}
    for perk in figures.perks:
        series = figures.net_by_day.get(perk.pk)
        if series is None:
            continue
        tier = perk.min_tier
        key = (tier.rank, tier.name_in(language)) if tier else (-1, _("Any tier or by score"))
        total = by_tier.setdefault(key, [0] * len(figures.days))
        for n, count in enumerate(series):
            total[n] += count
    return [(name, series) for (_rank, name), series in sorted(by_tier.items())]


def _by_day_chart(
    figures: Dashboard, days: _DayNames, *, id: str, title: str, groups: list[Group]
) -> ChartSpec:
    labels, full = days.short, days.full
    totals = [sum(day) for day in zip(*(series for _name, series in groups), strict=True)] or [0] * len(full)
    busiest = max(range(len(full)), key=lambda n: totals[n])
    summary = _(
        "%(total)s redemptions, net of reversals, from %(first)s to %(last)s; "
        "the busiest day was %(day)s with %(most)s."
    ) % {
        "total": sum(totals),
        "first": full[0],
        "last": full[-1],
        "day": full[busiest],
        "most": totals[busiest],
    }
    names = [name for name, _series in groups]
    rows = [[day, *(series[n] for _name, series in groups), totals[n]] for n, day in enumerate(full)]
    table = Table(headers=[_("Day"), *names, _("All")], rows=rows)
    return ChartSpec(
        id=id,
        title=title,
        summary=summary,
        table=table,
        # Stacked areas: a path a series, where bars would be a shape a day and series.
        kind=pygal.StackedLine,
        labels=labels,
        series=groups,
        config={
            "fill": True,
            "show_dots": False,
            "show_x_guides": False,
            "x_label_rotation": 0,
            "show_minor_x_labels": False,
            "x_labels_major": labels[:: max(1, len(labels) // 10)],
            "min_scale": 2,
            "include_x_axis": True,
            "truncate_label": -1,
        },
    )


def _funnel_chart(figures: Dashboard) -> ChartSpec:
    perks = [perk for perk in figures.perks if perk.pk in figures.totals]
    perks.sort(key=lambda perk: -figures.totals[perk.pk].issued)
    shown = perks[: SERIES * 2]
    steps = (
        (_("Issued"), lambda t: t.issued),
        (_("Claimed by members"), lambda t: t.claimed),
        (_("Redeemed"), lambda t: t.redeemed - t.reversed),
    )
    total = figures.total
    summary = _(
        "%(issued)s vouchers issued, %(claimed)s of them claimed by members themselves, "
        "and %(redeemed)s redemptions, net of reversals."
    ) % {
        "issued": total.issued,
        "claimed": total.claimed,
        "redeemed": total.redeemed - total.reversed,
    }
    rows = [
        [
            perk_title(perk),
            *(value(figures.totals[perk.pk]) for _name, value in steps),
            figures.totals[perk.pk].reversed,
        ]
        for perk in perks
    ]
    table = Table(headers=[_("Perk"), *(name for name, _value in steps), _("Reversed")], rows=rows)
    return ChartSpec(
        id="funnel",
        title=_("From issued to redeemed, per perk"),
        summary=summary,
        table=table,
        kind=pygal.HorizontalBar,
        labels=[perk_title(perk) for perk in shown],
        series=[(name, [value(figures.totals[perk.pk]) for perk in shown]) for name, value in steps],
        config={"height": max(220, 70 * len(shown) + 80)},
    )


def _locations_chart(figures: Dashboard) -> ChartSpec:
    names = [location.name if location else _("No location named") for location, _n in figures.locations]
    counts = [n for _location, n in figures.locations]
    if names:
        summary = ngettext(
            "%(count)s location; the first is %(name)s with %(n)s redemptions, net of reversals.",
            "The top %(count)s locations; the first is %(name)s with %(n)s redemptions, net of reversals.",
            len(names),
        ) % {"count": len(names), "name": names[0], "n": counts[0]}
    else:
        summary = _("No redemption in this period was made at a location.")
    table = Table(headers=[_("Location"), _("Redemptions")], rows=list(zip(names, counts, strict=True)))
    return ChartSpec(
        id="locations",
        title=_("Top locations"),
        summary=summary,
        table=table,
        kind=pygal.HorizontalBar,
        labels=names,
        series=[(_("Redemptions"), counts)],
        config={"height": max(200, 50 * len(names) + 80), "show_legend": False},
    )
