"""Log records as production writes them: through the JSON formatter of settings.LOGGING,
extras included, so a test sees every field an operator's log would hold."""

import logging
from typing import Any, cast

from django.conf import settings
from django.utils.module_loading import import_string


def as_written(record: logging.LogRecord) -> str:
    spec = dict(cast(dict[str, Any], settings.LOGGING)["formatters"]["json"])
    formatter: logging.Formatter = import_string(spec.pop("()"))(**spec)
    return formatter.format(record)
