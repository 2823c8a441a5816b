import factory

from perks.merchants.models import Category, Location, Merchant, Staff
from perks.merchants.permissions import Role
from tests.factories.auth import UserFactory


class MerchantFactory(factory.django.DjangoModelFactory[Merchant]):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")
    category = Category.COFFEE


class LocationFactory(factory.django.DjangoModelFactory[Location]):
    class Meta:
        model = Location

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Counter {n}")
    code = factory.Sequence(lambda n: f"LOC-{n}")


class StaffFactory(factory.django.DjangoModelFactory[Staff]):
    class Meta:
        model = Staff

    user = factory.SubFactory(UserFactory)
    merchant = factory.SubFactory(MerchantFactory)
    role = Role.OWNER
