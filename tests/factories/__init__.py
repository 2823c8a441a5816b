"""factory_boy factories, one module per app; import them from here."""

from tests.factories.auth import UserFactory
from tests.factories.catalog import PerkFactory
from tests.factories.members import ConsentFactory, JoinedMemberFactory, MemberFactory
from tests.factories.merchants import LocationFactory, MerchantFactory, StaffFactory
from tests.factories.points import EarnRuleFactory, PurchaseFactory
from tests.factories.scoring import MERCHANT_REF, OTHER_MERCHANT_REF, HoldFactory
from tests.factories.vouchers import VoucherFactory

__all__ = [
    "MERCHANT_REF",
    "OTHER_MERCHANT_REF",
    "ConsentFactory",
    "EarnRuleFactory",
    "HoldFactory",
    "JoinedMemberFactory",
    "LocationFactory",
    "MemberFactory",
    "MerchantFactory",
    "PerkFactory",
    "PurchaseFactory",
    "StaffFactory",
    "UserFactory",
    "VoucherFactory",
]
