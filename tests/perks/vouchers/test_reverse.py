"""redemption_reverse: within the window, once; the use comes back."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from perks.catalog.models import Perk
from perks.merchants.errors import RoleForbids
from perks.vouchers.errors import AlreadyReversed, ReversalWindowClosed
from perks.vouchers.models import RedemptionReversal, Voucher, VoucherStatus
from perks.vouchers.services import redemption_reverse, voucher_issue, voucher_redeem
from tests.support.races import errors_of, race

pytestmark = pytest.mark.django_db


@pytest.fixture
def redemption(merchant, perk, member, owner, key):
    voucher = voucher_issue(perk=perk, member=member, actor=owner)
    return voucher_redeem(merchant=merchant, actor=key, code=voucher.code)


def _state(redemption):
    return Voucher.objects.values_list("uses_count", "status").get(pk=redemption.voucher_id)


def test_a_reversal_gives_the_use_back(redemption, key):
    reversal = redemption_reverse(redemption=redemption, actor=key, reason="Wrong customer")

    assert reversal.reason == "Wrong customer"
    assert reversal.actor.startswith("api_key:")
    assert _state(redemption) == (0, VoucherStatus.ISSUED)


def test_a_second_reversal_is_refused(redemption, key):
    redemption_reverse(redemption=redemption, actor=key)

    with pytest.raises(AlreadyReversed):
        redemption_reverse(redemption=redemption, actor=key)
    assert _state(redemption) == (0, VoucherStatus.ISSUED)


def test_the_window_closes_after_a_day(redemption, key, settings):
    assert timedelta(hours=24) == settings.REDEMPTION_REVERSAL_WINDOW

    too_late = time_machine.travel(redemption.created_at + timedelta(hours=24, seconds=1))
    with too_late, pytest.raises(ReversalWindowClosed):
        redemption_reverse(redemption=redemption, actor=key)
    with time_machine.travel(redemption.created_at + timedelta(hours=23, minutes=59)):
        redemption_reverse(redemption=redemption, actor=key)
    assert RedemptionReversal.objects.count() == 1


def test_a_use_given_back_after_the_voucher_expired_leaves_it_expired(redemption, key, perk):
    Voucher.objects.filter(pk=redemption.voucher_id).update(expires_at=timezone.now() + timedelta(minutes=1))

    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        redemption_reverse(redemption=redemption, actor=key)

    assert _state(redemption) == (0, VoucherStatus.EXPIRED)


def test_a_partly_used_pass_keeps_its_status(merchant, perk, member, owner, key):
    Perk.objects.filter(pk=perk.pk).update(uses_per_voucher=3)
    voucher = voucher_issue(perk=perk, member=member, actor=owner)
    first = voucher_redeem(merchant=merchant, actor=key, code=voucher.code)
    voucher_redeem(merchant=merchant, actor=key, code=voucher.code)

    redemption_reverse(redemption=first, actor=key)

    assert _state(first) == (1, VoucherStatus.ISSUED)


def test_a_cashier_may_not_reverse(redemption, cashier):
    with pytest.raises(RoleForbids):
        redemption_reverse(redemption=redemption, actor=cashier)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reversals_give_one_use_back(redemption, key):
    outcomes = race(lambda _: redemption_reverse(redemption=redemption, actor=key), threads=10)

    assert sum(o.ok for o in outcomes) == 1
    assert all(isinstance(error, AlreadyReversed) for error in errors_of(outcomes))
    assert _state(redemption) == (0, VoucherStatus.ISSUED)
