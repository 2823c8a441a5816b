"""The platform accounts, and the earn rules and tier multipliers every environment starts with.

Rates are points per unit of currency. The base, per CNY, is 1 point where perks are
bought with everyday spending (a free coffee at 120 points is about four coffees), 2 for
the large-ticket categories whose partners fund richer perks, and 0.5 for currency
exchange and hospital bills, which are necessities rather than loyalty choices. Other
currencies get the base times a round CNY value of one unit. The tier multipliers reward
standing steeply enough to matter at the top (diamond doubles) without making the lower
tiers' points look worthless.
"""

from datetime import datetime, timezone
from decimal import Decimal

from django.db import migrations

SINCE = datetime(2020, 1, 1, tzinfo=timezone.utc)
BASE_PER_CNY = {
    "car_rental": Decimal("2"),
    "hotel": Decimal("2"),
    "lounge": Decimal("1"),
    "rail": Decimal("1"),
    "coffee": Decimal("1"),
    "retail": Decimal("1"),
    "fx": Decimal("0.5"),
    "hospital": Decimal("0.5"),
}
CNY_PER_UNIT = {
    "CNY": Decimal("1"),
    "HKD": Decimal("0.9"),
    "USD": Decimal("7"),
    "EUR": Decimal("7.5"),
    "GBP": Decimal("9"),
    "JPY": Decimal("0.05"),
}
TIER_MULTIPLIERS = {
    "starter": Decimal("1.0"),
    "silver": Decimal("1.1"),
    "gold": Decimal("1.25"),
    "platinum": Decimal("1.5"),
    "diamond": Decimal("2.0"),
}
CREATED_BY = "migration 0003"


def forwards(apps, schema_editor):
    Account = apps.get_model("points", "Account")
    EarnRule = apps.get_model("points", "EarnRule")
    TierMultiplier = apps.get_model("points", "TierMultiplier")
    Tier = apps.get_model("scoring", "Tier")
    for platform in ("issuance", "breakage", "expiry"):
        Account.objects.get_or_create(kind="platform", platform=platform)
    EarnRule.objects.bulk_create(
        (
            EarnRule(
                merchant_category=category,
                currency=currency,
                points_per_unit=base * per_unit,
                effective_from=SINCE,
                created_by=CREATED_BY,
            )
            for category, base in BASE_PER_CNY.items()
            for currency, per_unit in CNY_PER_UNIT.items()
        ),
        ignore_conflicts=True,
    )
    TierMultiplier.objects.bulk_create(
        (
            TierMultiplier(tier=tier, multiplier=TIER_MULTIPLIERS[tier.slug], effective_from=SINCE, created_by=CREATED_BY)
            for tier in Tier.objects.filter(slug__in=TIER_MULTIPLIERS)
        ),
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("points", "0002_ledger_integrity"),
        ("scoring", "0002_default_tiers"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
