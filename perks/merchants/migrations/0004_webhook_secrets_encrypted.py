"""Webhook endpoints' secrets encrypted at rest (loyalty.core.crypto), and back.

The column becomes text, wide enough for a token; the rows are rewritten while the field is
still plain text to the migration's models; only then does it become the encrypted field,
which changes nothing in the database. Backwards, each step is undone in reverse order.
"""

from django.db import migrations, models

from loyalty.core.crypto import EncryptedTextField, column_encryption


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0003_keys_unique_by_constraint"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=models.TextField(editable=False),
        ),
        column_encryption("merchants", "WebhookEndpoint", "secret"),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=EncryptedTextField(editable=False),
        ),
    ]
