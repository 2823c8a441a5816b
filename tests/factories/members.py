import factory

from loyalty.members.models import Consent, Dimension, Member
from tests.factories.auth import UserFactory


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    user = factory.SubFactory(UserFactory)
    display_name = factory.Faker("first_name")


class ConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consent

    member = factory.SubFactory(MemberFactory)
    dimension = Dimension.PAYMENT_HISTORY
    granted = True
