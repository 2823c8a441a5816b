import pytest

from perks.merchants.permissions import Role
from tests.factories import StaffFactory


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
