"""factory_boy factories, one module per app; import them from here."""

from tests.factories.auth import UserFactory
from tests.factories.members import ConsentFactory, MemberFactory

__all__ = ["ConsentFactory", "MemberFactory", "UserFactory"]
