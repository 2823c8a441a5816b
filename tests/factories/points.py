from datetime import UTC, datetime
from decimal import Decimal

import factory

from loyalty.points.models import EarnRule
from loyalty.points.services import Purchase

EARN_RULES_SINCE = datetime(2020, 1, 1, tzinfo=UTC)


class EarnRuleFactory(factory.django.DjangoModelFactory[EarnRule]):
    class Meta:
        model = EarnRule
        django_get_or_create = ("merchant_category", "currency", "effective_from")

    merchant_category = "coffee"
    currency = "CNY"
    points_per_unit = Decimal(1)
    effective_from = EARN_RULES_SINCE


class PurchaseFactory(factory.Factory[Purchase]):
    class Meta:
        model = Purchase

    external_id = factory.Sequence(lambda n: f"evt_{n}")
    member_id = 0  # pass the member's id
    amount = Decimal("42.00")
    currency = "CNY"
    occurred_at = factory.LazyFunction(lambda: datetime.now(UTC))
