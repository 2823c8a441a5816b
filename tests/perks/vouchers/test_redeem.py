"""voucher_redeem: one use, checked on the locked row, with the benefit it gave."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.members.models import LookupPurpose, MemberLookup
from loyalty.scoring.models import HoldCategory
from perks.catalog.errors import MemberOnHold, PerkInactive
from perks.catalog.models import Perk, PerkStatus, PerkType
from perks.merchants.errors import NotStaff, ScopeMissing
from perks.merchants.permissions import Role, Scope
from perks.merchants.services import api_key_create
from perks.vouchers.codes import UnknownCode, code_format
from perks.vouchers.errors import (
    VoucherAlreadyRedeemed,
    VoucherExpired,
    VoucherNotFound,
    VoucherNotYetValid,
    VoucherReserved,
    VoucherRevoked,
)
from perks.vouchers.models import Redemption, RedemptionChannel, Voucher, VoucherStatus
from perks.vouchers.services import (
    redemption_side_effects_apply,
    reservation_create,
    voucher_issue,
    voucher_redeem,
)
from tests.factories import (
    HoldFactory,
    LocationFactory,
    MerchantFactory,
    PerkFactory,
    StaffFactory,
    VoucherFactory,
)

pytestmark = pytest.mark.django_db


def test_a_redemption_uses_the_voucher_and_records_what_it_gave(merchant, key, voucher):
    location = LocationFactory.create(merchant=merchant, code="XTD")

    redemption = voucher_redeem(
        merchant=merchant,
        actor=key,
        code=code_format(voucher.code).lower(),
        location_code="XTD",
        metadata={"till": "3"},
    )

    voucher.refresh_from_db()
    assert voucher.uses_count == 1
    assert voucher.status == VoucherStatus.REDEEMED
    assert redemption.uses_remaining == 0
    assert redemption.location == location
    assert redemption.channel == RedemptionChannel.API
    assert redemption.benefit == {"type": "free_item", "item": "Flat white"}
    assert redemption.metadata == {"till": "3"}
    assert redemption.actor.startswith("api_key:")


def test_the_merchants_look_up_is_recorded_for_the_member_with_the_side_effects(merchant, key, voucher):
    redemption = voucher_redeem(merchant=merchant, actor=key, code=voucher.code)
    assert not MemberLookup.objects.filter(member=voucher.member, purpose=LookupPurpose.REDEMPTION).exists()

    redemption_side_effects_apply(redemption_id=redemption.pk)
    redemption_side_effects_apply(redemption_id=redemption.pk)

    (lookup,) = MemberLookup.objects.filter(member=voucher.member, purpose=LookupPurpose.REDEMPTION)
    assert (lookup.merchant_ref, lookup.looked_up_at) == (merchant.ref, redemption.created_at)


def test_a_second_redemption_of_a_single_use_voucher_is_refused(merchant, cashier, voucher):
    voucher_redeem(merchant=merchant, actor=cashier, code=voucher.code)

    with pytest.raises(VoucherAlreadyRedeemed):
        voucher_redeem(merchant=merchant, actor=cashier, code=voucher.code)
    assert Redemption.objects.count() == 1


def test_a_refusal_leaves_the_callers_transaction_usable(merchant, cashier, voucher):
    voucher_redeem(merchant=merchant, actor=cashier, code=voucher.code)

    with transaction.atomic():
        with pytest.raises(VoucherAlreadyRedeemed):
            voucher_redeem(merchant=merchant, actor=cashier, code=voucher.code)
        assert Redemption.objects.filter(voucher=voucher).count() == 1  # no broken transaction


@pytest.mark.parametrize("reserved", [False, True])
def test_the_voucher_returned_is_the_row_as_written(merchant, member, owner, key, reserved):
    perk = PerkFactory.create(merchant=merchant, uses_per_voucher=2)
    voucher = voucher_issue(perk=perk, member=member, actor=owner)
    reservation = reservation_create(merchant=merchant, actor=key, code=voucher.code) if reserved else None

    for _ in range(2):
        used = voucher_redeem(
            merchant=merchant, actor=key, code=voucher.code, reservation=reservation
        ).voucher
        reservation = None
        row = Voucher.objects.get(pk=voucher.pk)
        fields = ("uses_count", "uses_reserved", "status", "status_changed_at")
        assert [getattr(used, name) for name in fields] == [getattr(row, name) for name in fields]
    assert (row.uses_count, row.uses_reserved, row.status) == (2, 0, VoucherStatus.REDEEMED)


def test_an_access_pass_counts_its_entries_down(merchant, member, owner, key):
    perk = PerkFactory.create(
        merchant=merchant,
        type=PerkType.ACCESS_PASS,
        params={"venue": "T2 lounge", "kind": "lounge", "entries_per_voucher": 3},
        uses_per_voucher=3,
    )
    voucher = voucher_issue(perk=perk, member=member, actor=owner)

    entries = [
        voucher_redeem(merchant=merchant, actor=key, code=voucher.code).benefit["entries_remaining"]
        for _ in range(3)
    ]

    assert entries == [2, 1, 0]
    voucher.refresh_from_db()
    assert (voucher.uses_count, voucher.status) == (3, VoucherStatus.REDEEMED)


def test_a_deposit_waiver_gives_the_amount_up_to_its_cap(merchant, member, owner, key):
    perk = PerkFactory.create(
        merchant=merchant, type=PerkType.DEPOSIT_WAIVER, params={"max_amount": "5000.00", "currency": "CNY"}
    )
    voucher = voucher_issue(perk=perk, member=member, actor=owner)

    redemption = voucher_redeem(
        merchant=merchant, actor=key, code=voucher.code, amount="8000", currency="cny"
    )

    assert redemption.benefit["waived_amount"] == "5000.00"
    assert (redemption.amount, redemption.currency) == (Decimal("8000.00"), "CNY")


def test_another_merchants_voucher_is_not_found(key, perk, member):
    other = VoucherFactory.create(perk=PerkFactory.create(merchant=MerchantFactory.create()), member=member)

    with pytest.raises(VoucherNotFound) as refused:
        voucher_redeem(merchant=perk.merchant, actor=key, code=other.code)
    assert refused.value.code == "not_found"


def test_a_typo_is_not_found_before_any_query(merchant, key, voucher, django_assert_max_num_queries):
    typo = ("1" if voucher.code[0] != "1" else "2") + voucher.code[1:]

    with django_assert_max_num_queries(0), pytest.raises(UnknownCode):
        voucher_redeem(merchant=merchant, actor=key, code=typo)


@pytest.mark.parametrize(
    ("state", "error"),
    [
        ({"status": VoucherStatus.REVOKED}, VoucherRevoked),
        ({"status": VoucherStatus.EXPIRED}, VoucherExpired),
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, VoucherExpired),
        ({"valid_from": timezone.now() + timedelta(days=1)}, VoucherNotYetValid),
        ({"uses_reserved": 1}, VoucherReserved),
    ],
    ids=["revoked", "expired", "past-expiry", "not-yet-valid", "reserved"],
)
def test_a_voucher_that_cannot_be_used_is_refused_with_its_reason(merchant, key, perk, state, error):
    voucher = VoucherFactory.create(perk=perk, issued_at=timezone.now() - timedelta(days=2), **state)

    with pytest.raises(error):
        voucher_redeem(merchant=merchant, actor=key, code=voucher.code)
    assert Voucher.objects.get(pk=voucher.pk).uses_count == 0


def test_eligibility_and_holds_are_checked_again_at_the_counter(merchant, key, voucher, perk):
    HoldFactory.create(member=voucher.member, merchant_ref=merchant.ref, category=HoldCategory.ALL)
    with pytest.raises(MemberOnHold):
        voucher_redeem(merchant=merchant, actor=key, code=voucher.code)

    Perk.objects.filter(pk=perk.pk).update(status=PerkStatus.PAUSED)
    with pytest.raises(PerkInactive):
        voucher_redeem(merchant=merchant, actor=key, code=voucher.code)
    assert not Redemption.objects.exists()


def test_an_unknown_location_is_an_invalid_param(merchant, key, voucher):
    with pytest.raises(Invalid) as refused:
        voucher_redeem(merchant=merchant, actor=key, code=voucher.code, location_code="NOPE")
    assert refused.value.param == "location"


@pytest.mark.parametrize(
    ("amount", "currency", "param"),
    [
        ("12.345", "CNY", "amount"),
        ("-1", "CNY", "amount"),
        ("10", None, "currency"),
        ("10", "XXX", "currency"),
    ],
)
def test_a_malformed_amount_is_invalid(merchant, key, voucher, amount, currency, param):
    with pytest.raises(Invalid) as refused:
        voucher_redeem(merchant=merchant, actor=key, code=voucher.code, amount=amount, currency=currency)
    assert refused.value.param == param
    assert Voucher.objects.get(pk=voucher.pk).uses_count == 0


def test_an_offline_redemption_is_judged_at_the_time_it_happened(merchant, key, perk):
    Perk.objects.filter(pk=perk.pk).update(valid_from=timezone.now() - timedelta(days=60))
    voucher = VoucherFactory.create(perk=perk, issued_at=timezone.now() - timedelta(days=40))
    assert voucher.expires_at < timezone.now()

    redemption = voucher_redeem(
        merchant=merchant,
        actor=key,
        code=voucher.code,
        channel=RedemptionChannel.BATCH,
        occurred_at=voucher.expires_at - timedelta(days=1),
    )

    assert redemption.channel == RedemptionChannel.BATCH


def test_a_redemption_in_the_future_is_invalid(merchant, key, voucher):
    with pytest.raises(Invalid) as refused:
        voucher_redeem(
            merchant=merchant, actor=key, code=voucher.code, occurred_at=timezone.now() + timedelta(hours=1)
        )
    assert refused.value.param == "occurred_at"


def test_redeeming_needs_the_permission(merchant, owner, voucher):
    reader = api_key_create(merchant=merchant, actor=owner, name="Reader", scopes=[Scope.EVENTS_WRITE]).key
    with pytest.raises(ScopeMissing):
        voucher_redeem(merchant=merchant, actor=reader, code=voucher.code)


def test_a_cashier_of_another_merchant_may_not_redeem(voucher):
    stranger = StaffFactory.create(merchant=MerchantFactory.create(), role=Role.CASHIER).user
    with pytest.raises(NotStaff):
        voucher_redeem(merchant=voucher.merchant, actor=stranger, code=voucher.code)
