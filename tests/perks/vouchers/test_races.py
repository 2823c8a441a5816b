"""Invariants 1 and 6 under fire: threads behind a barrier, each on its own connection."""

import pytest

from loyalty.points.selectors import points_balance
from perks.catalog.errors import InventoryExhausted, LimitReached
from perks.catalog.models import Perk
from perks.vouchers.errors import VoucherAlreadyRedeemed, VoucherReserved
from perks.vouchers.models import Redemption, Reservation, ReservationStatus, Voucher
from perks.vouchers.services import reservation_create, voucher_claim, voucher_issue, voucher_redeem
from tests.factories import JoinedMemberFactory
from tests.perks.vouchers.conftest import grant
from tests.support.races import errors_of, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _voucher_of(perk, member, owner, uses):
    Perk.objects.filter(pk=perk.pk).update(uses_per_voucher=uses)
    perk.refresh_from_db()
    return voucher_issue(perk=perk, member=member, actor=owner)


def test_twenty_five_redemptions_of_a_single_use_voucher_give_exactly_one(merchant, owner, key, perk, member):
    voucher = _voucher_of(perk, member, owner, uses=1)

    outcomes = race(lambda _: voucher_redeem(merchant=merchant, actor=key, code=voucher.code), threads=25)

    assert sum(o.ok for o in outcomes) == 1
    assert all(isinstance(error, VoucherAlreadyRedeemed) for error in errors_of(outcomes))
    assert Redemption.objects.filter(voucher=voucher).count() == 1
    assert Voucher.objects.get(pk=voucher.pk).uses_count == 1


def test_forty_redemptions_of_a_five_use_voucher_give_exactly_five(merchant, owner, key, perk, member):
    voucher = _voucher_of(perk, member, owner, uses=5)

    outcomes = race(lambda _: voucher_redeem(merchant=merchant, actor=key, code=voucher.code), threads=40)

    assert sum(o.ok for o in outcomes) == 5
    assert all(isinstance(error, VoucherAlreadyRedeemed) for error in errors_of(outcomes))
    assert Redemption.objects.filter(voucher=voucher).count() == 5
    assert Voucher.objects.get(pk=voucher.pk).uses_count == 5


def test_thirty_claims_of_an_inventory_of_five_issue_exactly_five(perk):
    Perk.objects.filter(pk=perk.pk).update(inventory=5)
    members = JoinedMemberFactory.create_batch(30)

    outcomes = race(
        lambda i: voucher_claim(perk=perk, member=members[i], idempotency_key="claim"), threads=30
    )

    assert sum(o.ok for o in outcomes) == 5
    assert all(isinstance(error, InventoryExhausted) for error in errors_of(outcomes))
    assert Voucher.objects.filter(perk=perk).count() == 5
    assert Perk.objects.get(pk=perk.pk).issued_count == 5


def test_one_member_racing_ten_claims_gets_the_limit_and_pays_only_for_those(perk, member):
    Perk.objects.filter(pk=perk.pk).update(per_member_limit=2, points_cost=100)
    grant(member, 1000)

    outcomes = race(
        lambda i: voucher_claim(perk=perk, member=member, idempotency_key=f"claim-{i}"), threads=10
    )

    assert sum(o.ok for o in outcomes) == 2
    assert all(isinstance(error, LimitReached) for error in errors_of(outcomes))
    assert Voucher.objects.filter(perk=perk, member=member).count() == 2
    assert points_balance(member=member) == 800
    assert Perk.objects.get(pk=perk.pk).issued_count == 2


def test_one_member_replaying_one_key_gets_one_voucher(perk, member):
    Perk.objects.filter(pk=perk.pk).update(points_cost=100)
    grant(member, 1000)

    outcomes = race(lambda _: voucher_claim(perk=perk, member=member, idempotency_key="same"), threads=10)

    assert all(o.ok for o in outcomes), errors_of(outcomes)
    assert len({o.value.pk for o in outcomes}) == 1
    assert points_balance(member=member) == 900


def test_reservations_and_redemptions_together_never_exceed_the_uses(merchant, owner, key, perk, member):
    voucher = _voucher_of(perk, member, owner, uses=3)

    def act(index):
        if index % 2:
            return reservation_create(merchant=merchant, actor=key, code=voucher.code)
        return voucher_redeem(merchant=merchant, actor=key, code=voucher.code)

    outcomes = race(act, threads=20)

    assert sum(o.ok for o in outcomes) == 3
    assert all(isinstance(e, VoucherAlreadyRedeemed | VoucherReserved) for e in errors_of(outcomes))
    voucher.refresh_from_db()
    held = Reservation.objects.filter(voucher=voucher, status=ReservationStatus.ACTIVE).count()
    assert voucher.uses_count + voucher.uses_reserved == 3
    assert voucher.uses_reserved == held
    assert Redemption.objects.filter(voucher=voucher).count() == voucher.uses_count
