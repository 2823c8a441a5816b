from datetime import timedelta

import factory
from django.utils import timezone

from perks.vouchers.codes import code_generate
from perks.vouchers.models import Voucher, VoucherSource
from tests.factories.catalog import PerkFactory
from tests.factories.members import JoinedMemberFactory


class VoucherFactory(factory.django.DjangoModelFactory[Voucher]):
    """An issued voucher, written directly: for the states services reach only with time.
    Tests of issuance use the services."""

    class Meta:
        model = Voucher

    code = factory.LazyFunction(code_generate)
    perk = factory.SubFactory(PerkFactory)
    merchant = factory.SelfAttribute("perk.merchant")
    member = factory.SubFactory(JoinedMemberFactory)
    source = VoucherSource.MERCHANT
    uses_allowed = factory.SelfAttribute("perk.uses_per_voucher")
    issued_at = factory.LazyFunction(timezone.now)
    valid_from = factory.SelfAttribute("issued_at")
    expires_at = factory.LazyAttribute(lambda voucher: voucher.issued_at + timedelta(days=30))
