"""A member's erasure on the vouchers side: open vouchers are revoked, what a redemption
still owed is done first, and redemptions and their usage stay for billing."""

import pytest
from django.utils import timezone

from loyalty.members.models import LinkStart, MerchantLink, Notification
from loyalty.members.services import link_start
from loyalty.points.models import Account, AccountKind
from loyalty.points.selectors import points_balance
from perks.merchants.models import WebhookEvent
from perks.vouchers.models import (
    Redemption,
    Reservation,
    ReservationStatus,
    UsageRecord,
    Voucher,
    VoucherStatus,
)
from perks.vouchers.services import reservation_create, voucher_claim, voucher_issue, voucher_redeem
from perks.vouchers.services.erasure import vouchers_erase
from tests.factories import JoinedMemberFactory, PerkFactory
from tests.perks.vouchers.conftest import grant

pytestmark = pytest.mark.django_db


def test_open_vouchers_are_revoked_and_their_reservations_released(merchant, owner, key, perk, member):
    other = JoinedMemberFactory.create()
    open_one = voucher_issue(perk=perk, member=member, actor=owner)
    reservation = reservation_create(merchant=merchant, actor=key, code=open_one.code)
    others = voucher_issue(perk=perk, member=other, actor=owner)

    assert vouchers_erase(member=member, now=timezone.now()) == 1

    open_one.refresh_from_db()
    others.refresh_from_db()
    reservation.refresh_from_db()
    assert (open_one.status, open_one.uses_reserved) == (VoucherStatus.REVOKED, 0)
    assert reservation.status == ReservationStatus.RELEASED
    assert others.status == VoucherStatus.ISSUED
    revoked = WebhookEvent.objects.get(type="voucher.revoked")
    assert (revoked.merchant, revoked.data["status"]) == (merchant, VoucherStatus.REVOKED)
    assert revoked.data["member"] is None  # the member had no link with the merchant


def test_a_claims_points_are_not_given_back_as_at_an_expiry(merchant, member):
    grant(member, 150)
    claimed = voucher_claim(
        perk=PerkFactory.create(merchant=merchant, points_cost=100), member=member, idempotency_key="c1"
    )
    funding = Account.objects.get(kind=AccountKind.MERCHANT, merchant_ref=merchant.ref)

    vouchers_erase(member=member, now=timezone.now())

    assert Voucher.objects.get(pk=claimed.pk).status == VoucherStatus.REVOKED
    assert points_balance(member=member) == 50
    assert Account.objects.get(pk=funding.pk).balance == funding.balance


def test_what_a_redemption_still_owed_is_done_before_the_member_side_goes(
    merchant, owner, key, perk, member, django_capture_on_commit_callbacks
):
    voucher = voucher_issue(perk=perk, member=member, actor=owner)
    with django_capture_on_commit_callbacks(execute=False):
        redemption = voucher_redeem(merchant=merchant, actor=key, code=voucher.code)

    vouchers_erase(member=member, now=timezone.now())

    assert Redemption.objects.get(pk=redemption.pk).side_effects_at is not None
    assert UsageRecord.objects.filter(redemption=redemption).count() == 1
    assert WebhookEvent.objects.filter(type="voucher.redeemed").count() == 1
    assert Notification.objects.filter(member=member, kind="voucher_redeemed").exists()
    assert MerchantLink.objects.filter(member=member, merchant_ref=merchant.ref, ended_at=None).exists()
    assert Voucher.objects.get(pk=voucher.pk).status == VoucherStatus.REDEEMED

    vouchers_erase(member=member, now=timezone.now())  # again: nothing more

    assert UsageRecord.objects.filter(redemption=redemption).count() == 1
    assert WebhookEvent.objects.filter(type="voucher.redeemed").count() == 1


def test_a_linked_merchant_still_sees_whose_voucher_it_revoked(merchant, owner, perk, member):
    link_start(member=member, merchant_ref=merchant.ref, merchant_name=merchant.name, how=LinkStart.SHARING)
    voucher_issue(perk=perk, member=member, actor=owner)

    vouchers_erase(member=member, now=timezone.now())

    assert WebhookEvent.objects.get(type="voucher.revoked").data["member"] == member.ref
    assert not Reservation.objects.filter(status=ReservationStatus.ACTIVE).exists()
