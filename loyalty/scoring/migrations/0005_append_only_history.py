from django.db import migrations

from loyalty.core.sql import append_only


class Migration(migrations.Migration):
    dependencies = [("scoring", "0004_default_event_kinds")]

    operations = [
        append_only("scoring_scoreevent", "scoring_scoresnapshot", "scoring_tierchange", "scoring_holdauditentry")
    ]
