"""Revocation by the merchant, and expiry by time."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.schedule import BEAT_SCHEDULE
from loyalty.core.errors import Invalid
from loyalty.points.models import PointsTransaction, TransactionKind
from loyalty.points.selectors import points_balance
from perks.catalog.models import Perk
from perks.merchants.errors import RoleForbids
from perks.merchants.models import WebhookEvent
from perks.vouchers.errors import VoucherAlreadyRedeemed, VoucherExpired, VoucherRevoked
from perks.vouchers.models import Reservation, ReservationStatus, Voucher, VoucherStatus
from perks.vouchers.services import (
    reservation_create,
    voucher_claim,
    voucher_issue,
    voucher_redeem,
    voucher_revoke,
    vouchers_expire_due,
)
from perks.vouchers.tasks import expire_due
from perks.vouchers.tasks import reservations_expire_due as reservations_expire_due_task
from tests.factories import VoucherFactory
from tests.perks.vouchers.conftest import grant

pytestmark = pytest.mark.django_db


def test_revoking_a_claim_gives_its_points_back_once(perk, member, owner):
    Perk.objects.filter(pk=perk.pk).update(points_cost=120)
    grant(member, 200)
    voucher = voucher_claim(perk=perk, member=member, idempotency_key="claim-1")

    revoked = voucher_revoke(voucher=voucher, actor=owner, reason="Sold out of beans")

    assert revoked.status == VoucherStatus.REVOKED
    assert points_balance(member=member) == 200
    assert PointsTransaction.objects.filter(kind=TransactionKind.REVERSE).count() == 1
    with pytest.raises(VoucherRevoked):
        voucher_revoke(voucher=voucher, actor=owner, reason="Again")
    assert points_balance(member=member) == 200
    assert WebhookEvent.objects.filter(type="voucher.revoked").count() == 1


def test_revoking_a_gift_spends_no_points(perk, member, owner):
    voucher = voucher_issue(perk=perk, member=member, actor=owner)

    voucher_revoke(voucher=voucher, actor=owner, reason="Issued by mistake")

    assert not PointsTransaction.objects.filter(kind=TransactionKind.REVERSE).exists()


def test_revoking_ends_the_reservations_held_on_it(merchant, perk, member, owner, key):
    voucher = voucher_issue(perk=perk, member=member, actor=owner)
    reservation_create(merchant=merchant, actor=key, code=voucher.code)

    voucher_revoke(voucher=voucher, actor=owner, reason="Fraud")

    assert Voucher.objects.get(pk=voucher.pk).uses_reserved == 0
    assert Reservation.objects.get().status == ReservationStatus.RELEASED
    with pytest.raises(VoucherRevoked):
        voucher_redeem(merchant=merchant, actor=key, code=voucher.code)


def test_only_issued_vouchers_can_be_revoked(merchant, perk, member, owner, key):
    used = voucher_issue(perk=perk, member=member, actor=owner)
    voucher_redeem(merchant=merchant, actor=key, code=used.code)
    expired = VoucherFactory.create(perk=perk, status=VoucherStatus.EXPIRED)

    with pytest.raises(VoucherAlreadyRedeemed):
        voucher_revoke(voucher=used, actor=owner, reason="Late")
    with pytest.raises(VoucherExpired):
        voucher_revoke(voucher=expired, actor=owner, reason="Late")


def test_revoking_needs_a_reason_and_the_permission(perk, member, owner, cashier):
    voucher = voucher_issue(perk=perk, member=member, actor=owner)

    with pytest.raises(Invalid) as refused:
        voucher_revoke(voucher=voucher, actor=owner, reason="  ")
    assert refused.value.param == "reason"
    with pytest.raises(RoleForbids):
        voucher_revoke(voucher=voucher, actor=cashier, reason="No")
    assert Voucher.objects.get(pk=voucher.pk).status == VoucherStatus.ISSUED


def test_expiry_marks_only_issued_vouchers_past_their_time_and_is_idempotent(perk):
    now = timezone.now()
    past = now - timedelta(days=40)
    due = VoucherFactory.create_batch(3, perk=perk, issued_at=past)
    used = VoucherFactory.create(perk=perk, issued_at=past, status=VoucherStatus.REDEEMED, uses_count=1)
    revoked = VoucherFactory.create(perk=perk, issued_at=past, status=VoucherStatus.REVOKED)
    current = VoucherFactory.create(perk=perk)

    assert vouchers_expire_due(now=now) == 3
    assert vouchers_expire_due(now=now) == 0

    statuses = dict(Voucher.objects.values_list("pk", "status"))
    assert {statuses[v.pk] for v in due} == {VoucherStatus.EXPIRED}
    assert statuses[used.pk] == VoucherStatus.REDEEMED
    assert statuses[revoked.pk] == VoucherStatus.REVOKED
    assert statuses[current.pk] == VoucherStatus.ISSUED


def test_the_beat_schedules_both_expiry_tasks():
    scheduled = {entry["task"] for entry in BEAT_SCHEDULE.values()}

    assert {expire_due.name, reservations_expire_due_task.name} <= scheduled


def test_the_expiry_tasks_run_on_a_real_worker(celery_worker, merchant, perk, member, owner, key):
    stale = VoucherFactory.create(perk=perk, issued_at=timezone.now() - timedelta(days=40))
    voucher = voucher_issue(perk=perk, member=member, actor=owner)
    reservation = reservation_create(merchant=merchant, actor=key, code=voucher.code, ttl_seconds=60)
    lapsed = timezone.now() - timedelta(minutes=5)
    Reservation.objects.filter(pk=reservation.pk).update(
        created_at=lapsed, expires_at=lapsed + timedelta(minutes=1)
    )

    assert expire_due.apply_async(ignore_result=False).get(timeout=30) == 1
    assert reservations_expire_due_task.apply_async(ignore_result=False).get(timeout=30) == 1

    assert Voucher.objects.get(pk=stale.pk).status == VoucherStatus.EXPIRED
    assert Voucher.objects.get(pk=voucher.pk).uses_reserved == 0
