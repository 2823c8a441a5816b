"""Reservations: a use held for a checkout, released, consumed, or expired by time."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from loyalty.core.errors import Invalid
from perks.catalog.models import Perk
from perks.merchants.errors import NotStaff
from perks.vouchers.errors import (
    ReservationNotActive,
    ReservationNotFound,
    VoucherAlreadyRedeemed,
    VoucherReserved,
)
from perks.vouchers.models import Reservation, ReservationStatus, Voucher, VoucherStatus
from perks.vouchers.services import (
    reservation_create,
    reservation_release,
    reservations_expire_due,
    voucher_issue,
    voucher_redeem,
)
from tests.factories import MerchantFactory, StaffFactory

pytestmark = pytest.mark.django_db


def _uses(voucher):
    return Voucher.objects.values_list("uses_count", "uses_reserved", "status").get(pk=voucher.pk)


def test_a_reservation_holds_the_use_against_others(merchant, key, voucher):
    reservation = reservation_create(merchant=merchant, actor=key, code=voucher.code, ttl_seconds=120)

    assert reservation.expires_at - reservation.created_at == timedelta(seconds=120)
    assert _uses(voucher) == (0, 1, VoucherStatus.ISSUED)
    with pytest.raises(VoucherReserved):
        voucher_redeem(merchant=merchant, actor=key, code=voucher.code)
    with pytest.raises(VoucherReserved):
        reservation_create(merchant=merchant, actor=key, code=voucher.code)


def test_redeeming_with_the_reservation_consumes_it(merchant, key, voucher):
    reservation = reservation_create(merchant=merchant, actor=key, code=voucher.code)

    redemption = voucher_redeem(merchant=merchant, actor=key, code=voucher.code, reservation=reservation)

    assert redemption.reservation == reservation
    assert _uses(voucher) == (1, 0, VoucherStatus.REDEEMED)
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.CONSUMED
    with pytest.raises(ReservationNotActive):
        voucher_redeem(merchant=merchant, actor=key, code=voucher.code, reservation=reservation)


def test_releasing_gives_the_use_back_once(merchant, key, voucher):
    reservation = reservation_create(merchant=merchant, actor=key, code=voucher.code)

    released = reservation_release(merchant=merchant, actor=key, reservation=reservation)

    assert released.status == ReservationStatus.RELEASED
    assert _uses(voucher) == (0, 0, VoucherStatus.ISSUED)
    again = reservation_release(merchant=merchant, actor=key, reservation=reservation)
    assert again.status == ReservationStatus.RELEASED
    assert _uses(voucher) == (0, 0, VoucherStatus.ISSUED)


def test_a_reservation_a_redemption_used_cannot_be_released(merchant, key, voucher):
    reservation = reservation_create(merchant=merchant, actor=key, code=voucher.code)
    voucher_redeem(merchant=merchant, actor=key, code=voucher.code, reservation=reservation)

    with pytest.raises(ReservationNotActive):
        reservation_release(merchant=merchant, actor=key, reservation=reservation)
    assert _uses(voucher) == (1, 0, VoucherStatus.REDEEMED)


def test_another_merchants_reservation_is_not_found(key, voucher, merchant):
    reservation = reservation_create(merchant=merchant, actor=key, code=voucher.code)
    other = MerchantFactory.create()
    stranger = StaffFactory.create(merchant=other).user

    with pytest.raises(ReservationNotFound):
        reservation_release(merchant=other, actor=stranger, reservation=reservation)


def test_a_reservation_of_one_voucher_does_not_redeem_another(merchant, key, perk, member, owner, voucher):
    Perk.objects.filter(pk=perk.pk).update(per_member_limit=None)
    second = voucher_issue(perk=perk, member=member, actor=owner)
    reservation = reservation_create(merchant=merchant, actor=key, code=voucher.code)

    with pytest.raises(Invalid) as refused:
        voucher_redeem(merchant=merchant, actor=key, code=second.code, reservation=reservation)
    assert refused.value.param == "reservation"


@pytest.mark.parametrize("ttl", [59, 3601, "900", 900.0])
def test_the_time_to_live_is_bounded(merchant, key, voucher, ttl):
    with pytest.raises(Invalid) as refused:
        reservation_create(merchant=merchant, actor=key, code=voucher.code, ttl_seconds=ttl)
    assert refused.value.param == "ttl_seconds"


def test_a_used_voucher_cannot_be_reserved(merchant, key, voucher):
    voucher_redeem(merchant=merchant, actor=key, code=voucher.code)

    with pytest.raises(VoucherAlreadyRedeemed):
        reservation_create(merchant=merchant, actor=key, code=voucher.code)


def test_a_cashier_may_reserve_and_another_merchants_staff_may_not(merchant, cashier, voucher):
    assert reservation_create(merchant=merchant, actor=cashier, code=voucher.code)
    stranger = StaffFactory.create(merchant=MerchantFactory.create()).user

    with pytest.raises(NotStaff):
        reservation_create(merchant=merchant, actor=stranger, code=voucher.code)


def test_expiry_gives_uses_back_and_is_idempotent(merchant, key, voucher):
    reservation_create(merchant=merchant, actor=key, code=voucher.code, ttl_seconds=60)
    later = timezone.now() + timedelta(seconds=61)

    assert reservations_expire_due(now=timezone.now()) == 0
    assert reservations_expire_due(now=later) == 1
    assert reservations_expire_due(now=later) == 0

    assert _uses(voucher) == (0, 0, VoucherStatus.ISSUED)
    assert Reservation.objects.get().status == ReservationStatus.EXPIRED


def test_a_reservation_past_its_time_holds_nothing_at_the_counter(merchant, key, voucher):
    reservation = reservation_create(merchant=merchant, actor=key, code=voucher.code, ttl_seconds=60)

    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        redemption = voucher_redeem(merchant=merchant, actor=key, code=voucher.code, reservation=reservation)

    assert redemption.reservation is None
    assert _uses(voucher) == (1, 0, VoucherStatus.REDEEMED)
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.EXPIRED
