import pytest

from perks.merchants.permissions import Role
from tests.factories import MerchantFactory, StaffFactory


@pytest.fixture
def merchant(db):
    return MerchantFactory(category="car_rental")


@pytest.fixture
def owner(merchant):
    return StaffFactory(merchant=merchant, role=Role.OWNER).user
