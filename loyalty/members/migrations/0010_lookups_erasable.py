from django.db import migrations

from loyalty.core.sql import append_only_until_erased


class Migration(migrations.Migration):
    """Erasure deletes the look-up log of an erased member; nothing else may."""

    dependencies = [("members", "0009_voucher_read_lookups")]

    operations = [append_only_until_erased("members_memberlookup")]
