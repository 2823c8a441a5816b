from collections.abc import Iterator

import pytest
from django.conf import settings

from tests.support.celery import drop_queue, isolate_queue, running_worker

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


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
