from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from loyalty.scoring.models import Hold, HoldCategory, HoldReason
from loyalty.scoring.services import hold_place
from tests.factories.members import JoinedMemberFactory

MERCHANT_REF = "mch_0000000000000000000a"
OTHER_MERCHANT_REF = "mch_0000000000000000000b"


class HoldFactory(factory.django.DjangoModelFactory[Hold]):
    """A hold placed through `hold_place`, with its audit row and the member's notification."""

    class Meta:
        model = Hold

    member = factory.SubFactory(JoinedMemberFactory)
    merchant_ref = MERCHANT_REF
    merchant_name = "Swift Car Rental"
    category = HoldCategory.DEPOSIT_WAIVER
    reason_code = HoldReason.UNPAID_DAMAGE
    evidence = "Damage report DR-1042: scratched rear bumper, invoice INV-88 unpaid."
    lift_condition = "Pay invoice INV-88 at any Swift branch or online."
    obligation_ref = factory.Sequence(lambda n: f"INV-{n:04d}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=90))

    @classmethod
    def _create(cls, model_class: type[Hold], *args: Any, **kwargs: Any) -> Hold:
        return hold_place(**kwargs)
