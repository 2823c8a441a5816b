"""A member's erasure (loyalty/members/events.py `member_erased`): their vouchers stop
working, and what their last redemptions still owed is done first.

Open vouchers are revoked under their row locks, the locks a redemption takes: a redemption
in flight either commits first, and its use counts, or waits and is refused as revoked.
Like an expiry, an erasure gives no claim's points back: the wallet is emptied in the same
transaction (loyalty/points), and the merchant's ledger keeps the claim as it was.

Redemptions stay, with their usage rows for billing. Those whose side effects are still due
are applied now, under their row locks (a drain applying one meanwhile finishes first), so
what they leave on the member's side (the look-up, the message, the link with the merchant)
is written before the member side removes or ends it, not after.
"""

from datetime import datetime

from django.db import transaction

from loyalty.members.models import Member
from perks.merchants.services import webhook_emit
from perks.vouchers.locks import vouchers_lock
from perks.vouchers.models import Redemption, Reservation, ReservationStatus, Voucher, VoucherStatus
from perks.vouchers.services.issuance import voucher_event_data
from perks.vouchers.services.side_effects import redemptions_side_effects_apply


def vouchers_erase(*, member: Member, now: datetime) -> int:
    """Revoke the member's open vouchers, each merchant told; how many were revoked."""
    with transaction.atomic():
        locked = vouchers_lock(
            Voucher.objects.filter(member=member, status=VoucherStatus.ISSUED).values_list("pk", flat=True)
        )
        # Read again under the locks: a redemption that committed meanwhile may have taken the last use.
        revoked = list(
            Voucher.objects.select_related("perk", "merchant", "member")
            .filter(pk__in=locked, status=VoucherStatus.ISSUED)
            .order_by("pk")
        )
        ids = [voucher.pk for voucher in revoked]
        Voucher.objects.filter(pk__in=ids).update(
            status=VoucherStatus.REVOKED, uses_reserved=0, status_changed_at=now
        )
        Reservation.objects.filter(voucher_id__in=ids, status=ReservationStatus.ACTIVE).update(
            status=ReservationStatus.RELEASED, ended_at=now
        )
        for voucher in revoked:
            voucher.status, voucher.uses_reserved, voucher.status_changed_at = VoucherStatus.REVOKED, 0, now
            webhook_emit(merchant=voucher.merchant, type="voucher.revoked", data=voucher_event_data(voucher))
        due = (
            Redemption.objects.select_for_update(of=("self",))
            .filter(voucher__member=member, side_effects_at=None)
            .order_by("pk")
        )
        if due_ids := list(due.values_list("pk", flat=True)):
            redemptions_side_effects_apply(redemption_ids=due_ids, now=now)
    return len(revoked)
