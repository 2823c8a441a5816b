import importlib
from collections.abc import Iterator

import pytest
from django.apps import apps
from django.conf import settings

from tests.support.celery import drop_queue, isolate_queue, running_worker

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

# The rows data migrations write (tiers, event kinds, earn rules, platform accounts): each
# function is idempotent, so running it again restores what a flush removed.
REFERENCE_DATA = (
    ("loyalty.scoring.migrations.0002_default_tiers", "create_default_tiers"),
    ("loyalty.scoring.migrations.0004_default_event_kinds", "create_event_kinds"),
    ("loyalty.points.migrations.0003_default_accounts_and_rules", "forwards"),
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ON_POSTGRES:
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL: set DATABASE_URL=postgres://… (as .ci/run does) to run it"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _isolated_services() -> Iterator[None]:
    """Parallel test processes share Redis and the broker: give each its own keys and queue."""
    queue = isolate_queue()
    settings.CACHES["default"]["KEY_PREFIX"] = queue
    yield
    drop_queue(queue)


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing() -> None:
    """Tests create many users; a deliberately slow hasher would only slow the suite."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[None]:
    """A real worker thread consuming this test process's queue, for the test's duration."""
    with running_worker():
        yield


def _uses_committed_data(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return "transactional_db" in request.fixturenames or bool(marker and marker.kwargs.get("transaction"))


@pytest.fixture(autouse=True)
def reference_data(request: pytest.FixtureRequest) -> None:
    """Give tests on committed data the reference rows the migrations wrote.

    Such a test ends by flushing every table, reference rows included, so the next one
    starts by writing them again. Tests in a rolled-back transaction never lose them.
    """
    if not _uses_committed_data(request):
        return
    request.getfixturevalue("transactional_db")
    for module, function in REFERENCE_DATA:
        getattr(importlib.import_module(module), function)(apps, None)
