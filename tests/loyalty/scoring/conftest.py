import importlib

import pytest
from django.apps import apps

DATA_MIGRATIONS = {
    "loyalty.scoring.migrations.0002_default_tiers": "create_default_tiers",
    "loyalty.scoring.migrations.0004_default_event_kinds": "create_event_kinds",
}


@pytest.fixture
def reference_data(transactional_db: None) -> None:
    """Tiers and event kinds for tests on committed data.

    A transactional test flushes every table when it ends, the rows the data migrations
    wrote included; this writes them again (the migrations' own functions, idempotent).
    """
    for module, function in DATA_MIGRATIONS.items():
        getattr(importlib.import_module(module), function)(apps, None)
