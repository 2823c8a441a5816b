"""The catalog's rules as data and pure functions, for the services here and for vouchers."""

from datetime import datetime, timedelta

from django.utils import timezone

from loyalty.scoring.models import Tier
from perks.catalog.models import LimitPeriod, Perk, PerkStatus
from perks.merchants.models import MerchantStatus

# draft → active ↔ paused → archived. A draft may be discarded and a live perk withdrawn
# at once (archived); nothing leaves archived.
PERK_TRANSITIONS: dict[str, frozenset[str]] = {
    PerkStatus.DRAFT: frozenset({PerkStatus.ACTIVE, PerkStatus.ARCHIVED}),
    PerkStatus.ACTIVE: frozenset({PerkStatus.PAUSED, PerkStatus.ARCHIVED}),
    PerkStatus.PAUSED: frozenset({PerkStatus.ACTIVE, PerkStatus.ARCHIVED}),
    PerkStatus.ARCHIVED: frozenset(),
}


def perk_transition_allowed(current: str, to: str) -> bool:
    return to in PERK_TRANSITIONS.get(current, frozenset())


def perk_is_live(*, perk: Perk, at: datetime) -> bool:
    """Active, `at` inside its validity window, at a merchant in good standing."""
    return (
        perk.status == PerkStatus.ACTIVE
        and perk.merchant.status == MerchantStatus.ACTIVE
        and perk.valid_from <= at
        and (perk.valid_until is None or at < perk.valid_until)
    )


def perk_admits_standing(*, perk: Perk, score: int, tier: Tier) -> bool:
    """Whether a member with this score and tier meets the perk's minimum (holds aside)."""
    if perk.min_tier is not None:
        return tier.rank >= perk.min_tier.rank
    return perk.min_score is None or score >= perk.min_score


def limit_window_start(*, period: str, at: datetime) -> datetime | None:
    """Where the current limit period began (None: the limit counts for ever)."""
    if period == LimitPeriod.LIFETIME:
        return None
    local = timezone.localtime(at).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == LimitPeriod.WEEK:
        return local - timedelta(days=local.weekday())
    if period == LimitPeriod.MONTH:
        return local.replace(day=1)
    if period == LimitPeriod.YEAR:
        return local.replace(month=1, day=1)
    return local
