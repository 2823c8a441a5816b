"""The end of a voucher's life: revoked by the merchant, expired by time; and reservations
whose time ran out. The expiry jobs are set-based and safe to run twice, or at once."""

from collections import Counter, defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.members.services import notification_add
from loyalty.points.models import PointsTransaction
from loyalty.points.services import points_transaction_reverse
from perks.merchants.permissions import Permission
from perks.merchants.services import Actor, actor_require, audit_record, webhook_emit
from perks.vouchers.codes import code_format
from perks.vouchers.locks import voucher_lock_by_pk, vouchers_lock
from perks.vouchers.models import Reservation, ReservationStatus, Voucher, VoucherStatus
from perks.vouchers.services.actors import actor_label
from perks.vouchers.services.issuance import voucher_event_data
from perks.vouchers.services.redemption import voucher_refusal

EXPIRY_BATCH = 5000
REASON_MAX_LENGTH = 300


def voucher_revoke(*, voucher: Voucher, actor: Actor, reason: str) -> Voucher:
    """Withdraw a voucher that is still usable; a claim's points go back to the member."""
    actor_require(actor=actor, merchant=voucher.merchant, permission=Permission.VOUCHERS_ISSUE)
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX_LENGTH:
        raise Invalid(f"Say why, in at most {REASON_MAX_LENGTH} characters.", param="reason")
    now = timezone.now()
    with transaction.atomic():
        current = voucher_lock_by_pk(voucher.pk)
        if current.status != VoucherStatus.ISSUED:
            refusal = voucher_refusal(current, at=now)
            assert refusal is not None
            raise refusal
        Voucher.objects.filter(pk=voucher.pk).update(
            status=VoucherStatus.REVOKED, uses_reserved=0, status_changed_at=now
        )
        Reservation.objects.filter(voucher=voucher, status=ReservationStatus.ACTIVE).update(
            status=ReservationStatus.RELEASED, ended_at=now
        )
        if current.points_transaction_id is not None:
            points_transaction_reverse(
                transaction=PointsTransaction.objects.get(pk=current.points_transaction_id),
                idempotency_key=f"voucher-revoke:{current.code}",
                note=reason,
                actor=actor_label(actor),
            )
        audit_record(
            merchant=voucher.merchant,
            actor=actor,
            action="voucher.revoked",
            target=current.code,
            params={"reason": reason},
        )
        current.status, current.uses_reserved, current.status_changed_at = VoucherStatus.REVOKED, 0, now
        webhook_emit(merchant=voucher.merchant, type="voucher.revoked", data=voucher_event_data(current))
        notification_add(
            member=current.member,
            kind="voucher_revoked",
            dedupe_key=f"voucher_revoked:{current.code}",
            params={
                "perk": current.perk.title,
                "perk_zh": current.perk.title_zh,
                "code": code_format(current.code),
                "reason": reason,
            },
        )
    voucher.refresh_from_db()
    return voucher


def vouchers_expire_due(*, now: datetime | None = None) -> int:
    """Mark issued vouchers past their expiry as expired; how many."""
    now = now or timezone.now()
    expired = 0
    while True:
        with transaction.atomic():
            ids = list(
                Voucher.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=VoucherStatus.ISSUED, expires_at__lte=now)
                .order_by("pk")
                .values_list("pk", flat=True)[:EXPIRY_BATCH]
            )
            if not ids:
                return expired
            expired += Voucher.objects.filter(pk__in=ids, status=VoucherStatus.ISSUED).update(
                status=VoucherStatus.EXPIRED, status_changed_at=now
            )


def reservations_expire_due(*, now: datetime | None = None) -> int:
    """End active reservations past their time and give their uses back; how many."""
    now = now or timezone.now()
    expired = 0
    while True:
        due = Reservation.objects.filter(status=ReservationStatus.ACTIVE, expires_at__lte=now)
        voucher_ids = sorted(set(due.values_list("voucher_id", flat=True)[:EXPIRY_BATCH]))
        if not voucher_ids:
            return expired
        with transaction.atomic():
            # Vouchers first, as a redemption locks them, so the two never deadlock.
            vouchers_lock(voucher_ids)
            ending = list(
                due.filter(voucher_id__in=voucher_ids)
                .select_for_update(of=("self",))
                .values_list("pk", "voucher_id")
            )
            Reservation.objects.filter(pk__in=[pk for pk, _ in ending]).update(
                status=ReservationStatus.EXPIRED, ended_at=now
            )
            _uses_give_back(Counter(voucher_id for _, voucher_id in ending))
        expired += len(ending)


def _uses_give_back(reserved: Counter[int]) -> None:
    """One UPDATE per distinct count (almost always one: a use per voucher)."""
    by_count: defaultdict[int, list[int]] = defaultdict(list)
    for voucher_id, count in reserved.items():
        by_count[count].append(voucher_id)
    for count, voucher_ids in by_count.items():
        Voucher.objects.filter(pk__in=voucher_ids).update(uses_reserved=F("uses_reserved") - count)
