"""Webhook endpoints' secrets encrypted at rest (loyalty.core.crypto), and back.

The column becomes text, wide enough for a token; the rows are rewritten while the field is
still plain text to the migration's models; only then does it become the encrypted field,
which changes nothing in the database. Backwards, each step is undone in reverse order.
"""

from collections.abc import Callable
from typing import Any

from django.db import migrations, models

from loyalty.core.crypto import EncryptedTextField, decrypt, encrypt


def _rewrite(apps: Any, change: Callable[[str], str]) -> None:
    endpoint_model = apps.get_model("merchants", "WebhookEndpoint")
    endpoints = list(endpoint_model.objects.only("pk", "secret"))
    for endpoint in endpoints:
        endpoint.secret = change(endpoint.secret)
    endpoint_model.objects.bulk_update(endpoints, ["secret"], batch_size=500)


def secrets_encrypt(apps: Any, schema_editor: Any) -> None:
    _rewrite(apps, encrypt)


def secrets_decrypt(apps: Any, schema_editor: Any) -> None:
    _rewrite(apps, decrypt)


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
        migrations.RunPython(secrets_encrypt, secrets_decrypt, elidable=False),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=EncryptedTextField(editable=False),
        ),
    ]
