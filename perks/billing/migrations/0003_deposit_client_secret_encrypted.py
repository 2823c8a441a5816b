"""Deposits' client secrets encrypted at rest (loyalty.core.crypto), and back.

As perks/merchants/migrations/0004_webhook_secrets_encrypted.py does: the column becomes
text, wide enough for a token; the rows are rewritten while the field is still plain text
to the migration's models; only then does it become the encrypted field, which changes
nothing in the database. Backwards, each step is undone in reverse order. The rows are rewritten by `column_encryption`, a batch at a time.
"""

from django.db import migrations, models

from loyalty.core.crypto import EncryptedTextField, column_encryption


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
        column_encryption("billing", "Deposit", "client_secret"),
        migrations.AlterField(
            model_name="deposit",
            name="client_secret",
            field=EncryptedTextField(blank=True),
        ),
    ]
