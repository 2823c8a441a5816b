"""The five default bands, after Sesame Credit's; named so that no band shames anyone."""

from django.db import migrations

DEFAULT_TIERS = [
    ("starter", "Starter", "入门", 1, 350, 549),
    ("silver", "Silver", "白银", 2, 550, 599),
    ("gold", "Gold", "黄金", 3, 600, 649),
    ("platinum", "Platinum", "铂金", 4, 650, 699),
    ("diamond", "Diamond", "钻石", 5, 700, 950),
]


def create_default_tiers(apps, schema_editor):
    Tier = apps.get_model("scoring", "Tier")
    for slug, name, name_zh, rank, low, high in DEFAULT_TIERS:
        Tier.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "name_zh": name_zh, "rank": rank, "min_score": low, "max_score": high},
        )


class Migration(migrations.Migration):
    dependencies = [("scoring", "0001_initial")]

    operations = [migrations.RunPython(create_default_tiers, migrations.RunPython.noop)]
