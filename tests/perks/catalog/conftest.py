import pytest

from tests.factories import MerchantFactory


@pytest.fixture
def merchant(db):
    return MerchantFactory.create(category="car_rental")
