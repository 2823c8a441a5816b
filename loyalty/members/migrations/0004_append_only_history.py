from django.db import migrations

from loyalty.core.sql import append_only


class Migration(migrations.Migration):
    dependencies = [("members", "0003_lookups_passes_consent_source")]

    operations = [append_only("members_consentchange", "members_memberlookup")]
