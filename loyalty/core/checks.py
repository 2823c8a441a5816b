"""System checks of the core's settings (`manage.py check`; `--deploy` runs the deploy ones)."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning

from loyalty.core.crypto import keys_derived

ENCRYPTION_KEYS_DERIVED = "core.W001"


@register(Tags.security, deploy=True)
def encryption_keys_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """Warn when secrets at rest are encrypted with a key derived from SECRET_KEY: the two
    are then one secret, and SECRET_KEY is the one most often copied around."""
    if not keys_derived():
        return []
    return [
        CheckWarning(
            "ENCRYPTION_KEYS is not set: secrets at rest are encrypted with a key derived from SECRET_KEY.",
            hint="Set ENCRYPTION_KEYS to a key of its own, then run `manage.py rotate_encryption_keys` "
            "(docs/operations.md, Secrets at rest).",
            id=ENCRYPTION_KEYS_DERIVED,
        )
    ]
