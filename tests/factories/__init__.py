"""factory_boy factories, one module per app; import them from here."""

from tests.factories.auth import UserFactory
from tests.factories.members import ConsentFactory, JoinedMemberFactory, MemberFactory
from tests.factories.scoring import MERCHANT_REF, OTHER_MERCHANT_REF, HoldFactory

__all__ = [
    "MERCHANT_REF",
    "OTHER_MERCHANT_REF",
    "ConsentFactory",
    "HoldFactory",
    "JoinedMemberFactory",
    "MemberFactory",
    "UserFactory",
]
