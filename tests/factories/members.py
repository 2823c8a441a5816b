from typing import Any

import factory

from loyalty.members.models import Consent, ConsentSource, Dimension, Member
from loyalty.members.services import consent_set, member_create
from loyalty.points.services import points_adjust
from tests.factories.auth import UserFactory


class MemberFactory(factory.django.DjangoModelFactory[Member]):
    """A bare member row, without a standing; `JoinedMemberFactory` builds one as the product does."""

    class Meta:
        model = Member

    user = factory.SubFactory(UserFactory)
    display_name = factory.Faker("first_name")


class JoinedMemberFactory(MemberFactory):
    """A member created by `member_create`: standing at the baseline, first snapshot, history;
    `points=N` gives them N points as a welcome gift."""

    class Meta:
        model = Member
        skip_postgeneration_save = True  # the gift is a ledger entry; the member row is done

    @classmethod
    def _create(cls, model_class: type[Member], *args: Any, **kwargs: Any) -> Member:
        return member_create(**kwargs)

    @factory.post_generation
    def points(member: Member, create: bool, extracted: int | None, **kwargs: Any) -> None:
        if create and extracted:
            points_adjust(
                member=member,
                points=extracted,
                note="welcome",
                idempotency_key=f"gift-{member.pk}",
                actor="test",
            )


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
