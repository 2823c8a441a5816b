import factory

from perks.catalog.models import Perk, PerkStatus, PerkType
from tests.factories.merchants import MerchantFactory


class PerkFactory(factory.django.DjangoModelFactory[Perk]):
    """An active free coffee; pass `type` and `params` together for another kind."""

    class Meta:
        model = Perk

    merchant = factory.SubFactory(MerchantFactory)
    type = PerkType.FREE_ITEM
    params = factory.LazyFunction(lambda: {"item": "Flat white"})
    title = factory.Sequence(lambda n: f"Perk {n}")
    status = PerkStatus.ACTIVE
