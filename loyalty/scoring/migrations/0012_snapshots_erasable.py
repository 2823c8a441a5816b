from django.db import migrations

from loyalty.core.sql import append_only_until_erased


class Migration(migrations.Migration):
    """Erasure deletes the score snapshots of an erased member; nothing else may."""

    dependencies = [("scoring", "0011_event_caps"), ("members", "0010_lookups_erasable")]

    operations = [append_only_until_erased("scoring_scoresnapshot")]
