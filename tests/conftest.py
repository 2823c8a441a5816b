import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connections
from django.test import Client
from playwright.sync_api import Page

from perks.merchants.permissions import Role
from tests.factories import StaffFactory
from tests.support.accounts import operator_sign_in
from tests.support.browser import chromium, chromium_path
from tests.support.celery import drop_queue, isolate_queue, running_worker
from tests.support.ci import pytest_runtest_makereport  # noqa: F401 (under CI=true a skipped browser or postgres test fails)
from tests.support.stripe import localstripe, stripe_on  # noqa: F401 (fixtures, for every test folder)

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

# The rows data migrations write (tiers, event kinds, earn rules, platform accounts): each
# function is idempotent, so running it again restores what a flush removed.
REFERENCE_DATA = (
    ("loyalty.scoring.migrations.0002_default_tiers", "create_default_tiers"),
    ("loyalty.scoring.migrations.0004_default_event_kinds", "create_event_kinds"),
    ("loyalty.points.migrations.0003_default_accounts_and_rules", "forwards"),
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skips = {}
    if not ON_POSTGRES:
        skips["postgres"] = pytest.mark.skip(
            reason="needs PostgreSQL: set DATABASE_URL=postgres://… (as .ci/run does) to run it"
        )
    if chromium_path() is None:
        skips["browser"] = pytest.mark.skip(
            reason="needs Chromium: install Debian's `chromium` package (or set CHROMIUM_PATH) to run it"
        )
    for item in items:
        for marker, skip in skips.items():
            if marker in item.keywords:
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
def admin_client(admin_user: Any) -> Client:
    """pytest-django's, verified by a TOTP device as the console requires (config/admin.py)."""
    client = Client()
    operator_sign_in(client, admin_user)
    return client


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


@pytest.fixture
def browser_page(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:
    """A fresh Chromium page; `live_server.url` serves the app to it.

    Playwright's sync API runs an event loop in the test's thread, and Django refuses ORM
    calls in a thread with a running loop; the test's own database work is ordinary
    synchronous code, so it is allowed here.
    """
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
        yield context.new_page()
        context.close()
        # With Playwright's loop running, Django's connections are per context, not per
        # thread: the test's queries had one of their own, which must not outlive it.
        connections.close_all()


@pytest.fixture
def media(settings, tmp_path):
    """Uploaded and generated files go to a directory of this test's own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


# Staff of `merchant`: each test folder says which merchant that is.
@pytest.fixture
def owner(merchant):
    return StaffFactory.create(merchant=merchant, role=Role.OWNER).user


@pytest.fixture
def manager(merchant):
    return StaffFactory.create(merchant=merchant, role=Role.MANAGER).user


@pytest.fixture
def cashier(merchant):
    return StaffFactory.create(merchant=merchant, role=Role.CASHIER).user
