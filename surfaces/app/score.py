"""The Score page, the app's home: the score on a gauge of the tier bands, how far the next
tier is, a pending downgrade, the reasons in plain words, what would raise it (each with the
page where the member does it), a year of history, and the points balance.

Suggestions come from the explanation and the member's holds, never from a fixed list: a
dimension the member does not share (with the most it could add), one that lowers the score
(whose reports they can check and dispute), and each hold in force (how to lift it).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from loyalty.members.models import Locale
from loyalty.points.selectors import points_balance, points_lots_expiring
from loyalty.scoring.models import Hold, Tier
from loyalty.scoring.selectors import (
    Explanation,
    MonthScore,
    Standing,
    hold_lift_terms,
    holds_in_force,
    score_by_month,
    score_explanation,
    sharing_gain_ceiling,
    standing_of,
    tiers,
)
from surfaces.app import gauge
from surfaces.app.access import MemberRequest, member_required

HISTORY_MONTHS = 12
HOLDS_SUGGESTED = 3


@dataclass(frozen=True)
class Suggestion:
    """Something the member can do about their score, and the page where they do it.

    `kind` picks the wording: "share" (an unshared dimension: `points` is the most it can
    add), "dispute" (a dimension that lowers the score by about `points`), "hold" (`text`
    says how to lift it)."""

    kind: str
    url: str
    label: str = ""
    points: int = 0
    text: str = ""


@dataclass(frozen=True)
class Progress:
    next_name: str  # empty at the top tier
    points_to_next: int
    below_by: int  # points below the held tier's band, during its grace period


@dataclass(frozen=True)
class History:
    first: MonthScore
    last: MonthScore
    sparkline: gauge.Sparkline | None  # None until there are two months to join

    @property
    def change(self) -> int:
        return self.last.score - self.first.score

    @property
    def fall(self) -> int:
        return -self.change


@require_GET
@member_required
def home(request: MemberRequest) -> HttpResponse:
    member = request.member
    locale = _active_locale()
    standing = standing_of(member=member)
    all_tiers = list(tiers())
    explanation = score_explanation(member=member)
    in_force = list(holds_in_force(member=member))
    contributions = explanation.contributions if explanation else []
    zh = locale == Locale.SIMPLIFIED_CHINESE
    return render(
        request,
        "app/home.html",
        {
            "standing": standing,
            "tier_name": standing.tier.name_in(locale),
            "pending_tier_name": standing.pending_tier.name_in(locale) if standing.pending_tier else "",
            "gauge": score_gauge(standing, all_tiers, locale=locale),
            "progress": progress_of(standing, all_tiers, locale=locale),
            "explanation": explanation,
            "reasons": [reason.text(locale) for reason in explanation.reasons] if explanation else [],
            "contributions": [
                {"label": c.label_zh if zh else c.label, "shared": c.shared, "points": c.points}
                for c in contributions
            ],
            "suggestions": suggestions_of(explanation, in_force, locale=locale),
            "history": history_of(score_by_month(member=member, months=HISTORY_MONTHS)),
            "active_holds": in_force,
            "balance": points_balance(member=member),
            "expiring": points_lots_expiring(member=member, today=timezone.localdate()),
        },
    )


def _active_locale() -> str:
    language = (get_language() or "").lower()
    return Locale.SIMPLIFIED_CHINESE if language.startswith("zh") else Locale.ENGLISH


def score_gauge(standing: Standing, all_tiers: list[Tier], *, locale: str) -> gauge.Gauge:
    current = next((i for i, tier in enumerate(all_tiers) if tier.pk == standing.tier.pk), None)
    bands = [gauge.Band(tier.name_in(locale), tier.min_score, tier.max_score) for tier in all_tiers]
    return gauge.gauge(standing.score, bands, current)


def progress_of(standing: Standing, all_tiers: list[Tier], *, locale: str) -> Progress:
    """The tier above the one the member holds and how far its band is; while the score sits
    below the held tier's band, how far below."""
    above = [tier for tier in all_tiers if tier.rank > standing.tier.rank]
    below_by = max(standing.tier.min_score - standing.score, 0)
    if not above:
        return Progress(next_name="", points_to_next=0, below_by=below_by)
    return Progress(
        next_name=above[0].name_in(locale),
        points_to_next=max(above[0].min_score - standing.score, 0),
        below_by=below_by,
    )


def suggestions_of(explanation: Explanation | None, holds: list[Hold], *, locale: str) -> list[Suggestion]:
    """What would raise the score, biggest effect first, then how to lift each hold in force."""
    found = sorted(_by_dimension(explanation, locale) if explanation else [], key=lambda s: -s.points)
    found += [
        Suggestion(
            "hold",
            reverse("app:holds"),
            text=hold_lift_terms(
                lift_condition=hold.lift_condition,
                lift_on=hold.lift_on,
                obligation_ref=hold.obligation_ref,
                merchant_name=hold.merchant_name,
            ),
        )
        for hold in holds[:HOLDS_SUGGESTED]
    ]
    return found


def _by_dimension(explanation: Explanation, locale: str) -> list[Suggestion]:
    found = []
    for contribution in explanation.contributions:
        label = contribution.label_zh if locale == Locale.SIMPLIFIED_CHINESE else contribution.label.lower()
        if not contribution.shared:
            ceiling = sharing_gain_ceiling(
                engine_version=explanation.engine_version, dimension=contribution.dimension
            )
            found.append(Suggestion("share", reverse("app:consents"), label=label, points=ceiling))
        elif contribution.points < 0:
            found.append(
                Suggestion("dispute", reverse("app:events"), label=label, points=-contribution.points)
            )
    return found


def history_of(months: list[MonthScore], now: datetime | None = None) -> History | None:
    """The year's scores for the sparkline and its summary; None before the first snapshot."""
    if not months:
        return None
    end = now or timezone.now()
    start = min(end - timedelta(days=365), months[0].at)
    line = None
    if len(months) > 1:
        line = gauge.sparkline([(month.at, month.score) for month in months], start, end)
    return History(first=months[0], last=months[-1], sparkline=line)
