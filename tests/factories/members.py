from typing import Any

import factory

from loyalty.members.models import Consent, ConsentSource, Dimension, Member
from loyalty.members.services import consent_set, member_create
from tests.factories.auth import UserFactory


class MemberFactory(factory.django.DjangoModelFactory[Member]):
    """A bare member row, without a standing; `JoinedMemberFactory` builds one as the product does."""

    class Meta:
        model = Member

    user = factory.SubFactory(UserFactory)
    display_name = factory.Faker("first_name")


class JoinedMemberFactory(MemberFactory):
    """A member created by `member_create`: standing at the baseline, first snapshot, history."""

    @classmethod
    def _create(cls, model_class: type[Member], *args: Any, **kwargs: Any) -> Member:
        return member_create(**kwargs)


class ConsentFactory(factory.django.DjangoModelFactory[Consent]):
    """Consent through `consent_set`, which also keeps the engine's copy and the history."""

    class Meta:
        model = Consent

    member = factory.SubFactory(JoinedMemberFactory)
    dimension = Dimension.PAYMENT_HISTORY
    granted = True

    @classmethod
    def _create(cls, model_class: type[Consent], *args: Any, **kwargs: Any) -> Consent:
        return consent_set(source=ConsentSource.APP, **kwargs)
