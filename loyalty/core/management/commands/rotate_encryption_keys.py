from typing import Any

from django.core.management.base import BaseCommand

from loyalty.core.crypto import encrypted_values_rotate, keys_derived


class Command(BaseCommand):
    help = (
        "Encrypt every secret kept at rest again with the first key of ENCRYPTION_KEYS, so the "
        "keys after it can be removed (docs/operations.md, Secrets at rest)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if keys_derived():
            self.stderr.write("ENCRYPTION_KEYS is not set: encrypting with the key derived from SECRET_KEY.")
        for label, rows in encrypted_values_rotate().items():
            self.stdout.write(f"{label}: {rows} encrypted again with the newest key.")
