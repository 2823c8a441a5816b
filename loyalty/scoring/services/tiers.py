"""Editing tier bands (the operator does, in the admin)."""

from collections.abc import Iterable

from django.db import transaction

from loyalty.core.errors import Invalid
from loyalty.scoring.bands import band_problems
from loyalty.scoring.models import Tier
from loyalty.scoring.tasks import recompute_all


def tier_bands_check(*, changed: Tier, others: Iterable[Tier]) -> None:
    """Refuse a band edit that would leave a score with no tier, or with two."""
    bands = [(tier.rank, tier.min_score, tier.max_score) for tier in others if tier.pk != changed.pk]
    problems = band_problems([*bands, (changed.rank, changed.min_score, changed.max_score)])
    if problems:
        raise Invalid(" ".join(problems), param="min_score")


def tier_save(*, tier: Tier) -> Tier:
    """Save an edited band and have every member re-tiered by a full recomputation."""
    with transaction.atomic():
        tier_bands_check(changed=tier, others=Tier.objects.select_for_update())
        tier.save()
        recompute_all.delay_on_commit()
    return tier
