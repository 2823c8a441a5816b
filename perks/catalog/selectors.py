from django.db.models import QuerySet
from django.utils import timezone

from loyalty.scoring.models import Tier
from perks.catalog.errors import PerkNotFound
from perks.catalog.models import Perk, PerkStatus
from perks.merchants.models import Merchant, MerchantStatus


def perk_by_ref(*, merchant: Merchant, ref: str) -> Perk:
    """A perk of this merchant; another merchant's is as unknown as one that does not exist."""
    perk = Perk.objects.select_related("merchant", "min_tier").filter(merchant=merchant, ref=ref).first()
    if perk is None:
        raise PerkNotFound(param="perk")
    return perk


def perks_of_merchant(*, merchant: Merchant, status: str | None = None) -> QuerySet[Perk]:
    perks = Perk.objects.filter(merchant=merchant).select_related("min_tier")
    return perks.filter(status=status) if status else perks


def perks_live() -> QuerySet[Perk]:
    """Active, inside their validity window, at a merchant in good standing: what members see."""
    now = timezone.now()
    return (
        Perk.objects.filter(
            status=PerkStatus.ACTIVE, merchant__status=MerchantStatus.ACTIVE, valid_from__lte=now
        )
        .exclude(valid_until__lte=now)
        .select_related("merchant", "min_tier")
    )


def perks_live_of_merchant(*, merchant: Merchant) -> QuerySet[Perk]:
    return perks_live().filter(merchant=merchant)


def perks_auto_issued_on_reaching(*, tier: Tier, previous_tier: Tier | None) -> QuerySet[Perk]:
    """Live auto-issue perks a member moving up from `previous_tier` to `tier` should receive:
    those whose minimum tier was crossed (a member jumping two tiers gets both)."""
    crossed = perks_live().filter(auto_issue=True, min_tier__rank__lte=tier.rank)
    return crossed.filter(min_tier__rank__gt=previous_tier.rank) if previous_tier else crossed
