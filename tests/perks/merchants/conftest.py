import pytest

from perks.merchants.permissions import Role
from tests.factories import MerchantFactory, StaffFactory


@pytest.fixture
def merchant(db):
    return MerchantFactory.create()


@pytest.fixture
def owner(merchant):
    return StaffFactory.create(merchant=merchant, role=Role.OWNER).user


@pytest.fixture
def manager(merchant):
    return StaffFactory.create(merchant=merchant, role=Role.MANAGER).user


@pytest.fixture
def cashier(merchant):
    return StaffFactory.create(merchant=merchant, role=Role.CASHIER).user
