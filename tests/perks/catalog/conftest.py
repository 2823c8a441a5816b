import pytest

from perks.merchants.permissions import Role
from tests.factories import MerchantFactory, StaffFactory


@pytest.fixture
def merchant(db):
    return MerchantFactory.create(category="car_rental")


@pytest.fixture
def owner(merchant):
    return StaffFactory.create(merchant=merchant, role=Role.OWNER).user
