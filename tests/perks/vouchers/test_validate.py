"""voucher_validate: the answer a till gets before it redeems; changes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.scoring.models import HoldCategory
from perks.catalog.models import PerkType
from perks.vouchers.codes import code_format
from perks.vouchers.models import Redemption, Voucher, VoucherStatus
from perks.vouchers.services import Validation, voucher_issue, voucher_redeem, voucher_validate
from tests.factories import HoldFactory, MerchantFactory, PerkFactory, VoucherFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiver(merchant):
    return PerkFactory.create(
        merchant=merchant, type=PerkType.DEPOSIT_WAIVER, params={"max_amount": "5000.00", "currency": "CNY"}
    )


def test_a_usable_voucher_is_valid_with_its_benefit_and_nothing_changes(merchant, member, owner, waiver):
    voucher = voucher_issue(perk=waiver, member=member, actor=owner)

    validation = voucher_validate(
        merchant=merchant, code=code_format(voucher.code), amount="3000.00", currency="CNY"
    )

    assert validation.valid
    assert validation.reason is None
    assert validation.voucher == voucher
    assert validation.benefit is not None
    assert validation.benefit.waived_amount == Decimal("3000.00")
    assert Voucher.objects.values_list("uses_count", "uses_reserved").get(pk=voucher.pk) == (0, 0)
    assert not Redemption.objects.exists()


@pytest.mark.parametrize("code", ["not-a-code", "0000-0000-0000-0"])
def test_an_unknown_code_is_not_found(merchant, code):
    assert voucher_validate(merchant=merchant, code=code) == Validation(
        valid=False, reason="not_found", voucher=None, benefit=None
    )


def test_another_merchants_voucher_is_not_found(merchant, member):
    other = VoucherFactory.create(perk=PerkFactory.create(merchant=MerchantFactory.create()), member=member)

    validation = voucher_validate(merchant=merchant, code=other.code)

    assert (validation.valid, validation.reason, validation.voucher) == (False, "not_found", None)


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ({"status": VoucherStatus.REVOKED}, "voucher_revoked"),
        ({"status": VoucherStatus.EXPIRED}, "voucher_expired"),
        ({"valid_from": timezone.now() + timedelta(days=1)}, "voucher_not_yet_valid"),
        ({"uses_reserved": 1}, "voucher_reserved"),
        ({"uses_count": 1, "status": VoucherStatus.REDEEMED}, "voucher_already_redeemed"),
    ],
)
def test_the_reason_a_voucher_cannot_be_used(merchant, perk, state, reason):
    voucher = VoucherFactory.create(perk=perk, **state)

    validation = voucher_validate(merchant=merchant, code=voucher.code)

    assert (validation.valid, validation.reason, validation.benefit) == (False, reason, None)
    assert validation.voucher == voucher


def test_a_hold_is_a_reason(merchant, perk, member, owner):
    voucher = voucher_issue(perk=perk, member=member, actor=owner)
    HoldFactory.create(member=member, merchant_ref=merchant.ref, category=HoldCategory.FREE_ITEM)

    assert voucher_validate(merchant=merchant, code=voucher.code).reason == "member_on_hold"


@pytest.mark.parametrize(
    ("amount", "currency"), [("1.001", "CNY"), ("abc", "CNY"), ("5", "ZZZ"), ("5", None)]
)
def test_a_malformed_amount_is_invalid_whatever_the_code(merchant, amount, currency):
    with pytest.raises(Invalid):
        voucher_validate(merchant=merchant, code="unknown", amount=amount, currency=currency)


def test_an_amount_in_another_currency_than_the_perks_is_invalid(merchant, member, owner, waiver):
    voucher = voucher_issue(perk=waiver, member=member, actor=owner)

    with pytest.raises(Invalid) as refused:
        voucher_validate(merchant=merchant, code=voucher.code, amount="10.00", currency="USD")
    assert refused.value.param == "currency"


def test_validation_after_a_redemption_says_why(merchant, perk, member, owner, key):
    voucher = voucher_issue(perk=perk, member=member, actor=owner)
    voucher_redeem(merchant=merchant, actor=key, code=voucher.code)

    assert voucher_validate(merchant=merchant, code=voucher.code).reason == "voucher_already_redeemed"
