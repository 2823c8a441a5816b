"""factory_boy factories, one module per app; import them from here."""

from tests.factories.auth import UserFactory

__all__ = ["UserFactory"]
