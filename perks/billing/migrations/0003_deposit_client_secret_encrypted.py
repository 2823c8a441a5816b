"""Deposits' client secrets encrypted at rest (loyalty.core.crypto), and back.

As perks/merchants/migrations/0004_webhook_secrets_encrypted.py does: the column becomes
text, wide enough for a token; the rows are rewritten while the field is still plain text
to the migration's models; only then does it become the encrypted field, which changes
nothing in the database. Backwards, each step is undone in reverse order.

Every row is rewritten, the empty secrets of deposits that moved on too, since the field
decrypts whatever its column holds. Deposits are many, so a batch at a time.
"""

from collections.abc import Callable
from typing import Any

from django.db import migrations, models

from loyalty.core.crypto import ROTATION_BATCH, EncryptedTextField, decrypt, encrypt


def _rewrite(apps: Any, change: Callable[[str], str]) -> None:
    deposit_model = apps.get_model("billing", "Deposit")
    rows = deposit_model.objects.only("pk", "client_secret").order_by("pk")
    batch = list(rows[:ROTATION_BATCH])
    while batch:
        for deposit in batch:
            deposit.client_secret = change(deposit.client_secret)
        deposit_model.objects.bulk_update(batch, ["client_secret"])
        batch = list(rows.filter(pk__gt=batch[-1].pk)[:ROTATION_BATCH])


def secrets_encrypt(apps: Any, schema_editor: Any) -> None:
    _rewrite(apps, encrypt)


def secrets_decrypt(apps: Any, schema_editor: Any) -> None:
    _rewrite(apps, decrypt)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_billing_notice_due"),
    ]

    operations = [
        migrations.AlterField(
            model_name="deposit",
            name="client_secret",
            field=models.TextField(blank=True),
        ),
        migrations.RunPython(secrets_encrypt, secrets_decrypt, elidable=False),
        migrations.AlterField(
            model_name="deposit",
            name="client_secret",
            field=EncryptedTextField(blank=True),
        ),
    ]
