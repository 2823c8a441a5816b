"""Invariants 1, 2 and 10 while a member is erased with work of theirs in flight: a
redemption of their voucher and a claim with their points, each on its own connection,
released together with the erasure."""

import time

import pytest

from loyalty.core.errors import DomainError
from loyalty.members.models import LinkStart, MemberPass, MerchantLink, Notification
from loyalty.members.services import link_start, member_create, member_erase, member_pass_issue
from loyalty.points.selectors import points_balance
from perks.merchants.permissions import Scope
from perks.merchants.services import api_key_create
from perks.vouchers.errors import VoucherRevoked
from perks.vouchers.models import Redemption, Reservation, ReservationStatus, Voucher, VoucherStatus
from perks.vouchers.services import voucher_claim, voucher_issue, voucher_redeem
from tests.factories import MerchantFactory, PerkFactory, StaffFactory, UserFactory
from tests.loyalty.points.ledger_checks import assert_ledger_consistent
from tests.perks.vouchers.conftest import grant
from tests.support.races import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 8
# The redemption sets off a little later each round, so that across the rounds it meets the
# erasure at every step, before and after the voucher's lock; no outcome depends on it.
STAGGER_SECONDS = 0.05
REDEEM, ERASE, CLAIM = range(3)


def test_an_erasure_racing_a_redemption_and_a_claim_leaves_each_done_whole_or_refused():
    merchant = MerchantFactory.create(name="Blue Bottle")
    owner = StaffFactory.create(merchant=merchant).user
    key = api_key_create(merchant=merchant, actor=owner, name="Till", scopes=Scope.values).key
    gift, paid = PerkFactory.create(merchant=merchant), PerkFactory.create(merchant=merchant, points_cost=100)

    for round_ in range(ROUNDS):
        member = member_create(user=UserFactory.create(), display_name="Ada", phone="+44 7700 900123")
        link_start(
            member=member, merchant_ref=merchant.ref, merchant_name=merchant.name, how=LinkStart.SHARING
        )
        grant(member, 300)
        member_pass_issue(member=member)
        voucher = voucher_issue(perk=gift, member=member, actor=owner)

        def act(index, member=member, voucher=voucher, round_=round_):
            if index == REDEEM:
                time.sleep(round_ * STAGGER_SECONDS)
                return voucher_redeem(merchant=merchant, actor=key, code=voucher.code)
            if index == ERASE:
                return member_erase(member=member)
            return voucher_claim(perk=paid, member=member, idempotency_key=f"claim-{round_}")

        outcomes = race(act, threads=3)

        assert outcomes[ERASE].value is True, outcomes[ERASE].error
        voucher.refresh_from_db()
        assert voucher.uses_count <= voucher.uses_allowed
        if outcomes[REDEEM].ok:  # it committed first: its use counts, and what it owed was done
            assert (voucher.status, voucher.uses_count) == (VoucherStatus.REDEEMED, 1)
            assert Redemption.objects.get(voucher=voucher).side_effects_at is not None
        else:  # it waited for the erasure and found the voucher revoked
            assert isinstance(outcomes[REDEEM].error, VoucherRevoked), outcomes[REDEEM].error
            assert (voucher.status, voucher.uses_count) == (VoucherStatus.REVOKED, 0)
            assert not Redemption.objects.filter(voucher=voucher).exists()
        if outcomes[CLAIM].ok:  # claimed first: the erasure then revoked the new voucher
            assert Voucher.objects.get(pk=outcomes[CLAIM].value.pk).status == VoucherStatus.REVOKED
        else:  # claimed after: the points had left with the account
            assert isinstance(outcomes[CLAIM].error, DomainError), outcomes[CLAIM].error
        assert not Voucher.objects.filter(member=member, status=VoucherStatus.ISSUED).exists()
        assert not Reservation.objects.filter(
            voucher__member=member, status=ReservationStatus.ACTIVE
        ).exists()
        assert points_balance(member=member) == 0
        assert not Notification.objects.filter(member=member).exists()
        assert not MemberPass.objects.filter(member=member).exists()
        assert not MerchantLink.objects.filter(member=member, ended_at__isnull=True).exists()
        assert_ledger_consistent()
