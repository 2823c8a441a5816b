"""factory_boy factories, one module per app; import them from here."""

from tests.factories.auth import UserFactory
from tests.factories.catalog import PerkFactory
from tests.factories.members import ConsentFactory, MemberFactory
from tests.factories.merchants import LocationFactory, MerchantFactory, StaffFactory
from tests.factories.points import EarnRuleFactory, PurchaseFactory

__all__ = [
    "ConsentFactory",
    "EarnRuleFactory",
    "LocationFactory",
    "MemberFactory",
    "MerchantFactory",
    "PerkFactory",
    "PurchaseFactory",
    "StaffFactory",
    "UserFactory",
]
