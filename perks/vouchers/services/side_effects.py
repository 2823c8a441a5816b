"""What follows a redemption or its reversal, run by a task after commit, safe to run twice.

The usage row is unique per (redemption, kind): whoever inserts it also writes the webhook
event and the notification, in the same transaction, so a second run, or two at once,
write each exactly once.

Redemptions are the outbox of their side effects: each is written with `side_effects_at`
empty, and `redemption_side_effects_due` applies every one still empty. A redemption's
commit wakes that drain (`redemption_side_effects_nudge`) at most once every
NUDGE_SECONDS in a process, NUDGE_SECONDS later, so the drain finds every redemption
committed before it starts: one message a burst, not one a redemption (a redemption's
own publish cost as much as its SQL, bench/redeem_api.py). Beat's sweep applies what a
crash between a commit and its wake-up left behind.
"""

import threading
import time

from django.db import transaction
from django.utils import timezone

from loyalty.members.models import LookupPurpose
from loyalty.members.services import member_lookup_record, notification_add
from perks.merchants.services import webhook_emit
from perks.vouchers.codes import code_format
from perks.vouchers.models import Redemption, RedemptionReversal, UsageKind, UsageRecord
from perks.vouchers.tasks import redemption_side_effects_due as drain

NUDGE_SECONDS = 0.5
DRAIN_BATCH = 200
_nudged_at = -NUDGE_SECONDS
_nudge_lock = threading.Lock()


def redemption_side_effects_nudge() -> None:
    """Called after a redemption commits: make sure a drain starts after this moment."""
    global _nudged_at
    now = time.monotonic()
    with _nudge_lock:
        if now - _nudged_at < NUDGE_SECONDS:
            return  # the drain woken then starts after now
        _nudged_at = now
    drain.apply_async(countdown=NUDGE_SECONDS)


def redemption_side_effects_due(*, batch: int = DRAIN_BATCH) -> int:
    """Apply the side effects of every redemption still waiting for them, oldest first, a
    batch a transaction; rows another drain holds are skipped. The number applied."""
    applied = 0
    while True:
        with transaction.atomic():
            due = list(
                Redemption.objects.select_for_update(skip_locked=True)
                .filter(side_effects_at=None)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch]
            )
            applied += sum(redemption_side_effects_apply(redemption_id=pk) for pk in due)
        if len(due) < batch:
            return applied


def redemption_side_effects_apply(*, redemption_id: int) -> bool:
    """Usage for billing, the `voucher.redeemed` webhook, the record of the merchant's
    look-up (as of the redemption) and the member's notification; False when an earlier run
    did them."""
    redemption = Redemption.objects.select_related(
        "voucher__perk", "voucher__member", "merchant", "location"
    ).get(pk=redemption_id)
    with transaction.atomic():
        Redemption.objects.filter(pk=redemption_id, side_effects_at=None).update(
            side_effects_at=timezone.now()
        )
        if not _usage_record(redemption, UsageKind.REDEMPTION):
            return False
        voucher = redemption.voucher
        webhook_emit(
            merchant=redemption.merchant,
            type="voucher.redeemed",
            data={
                "redemption": redemption.ref,
                "code": code_format(voucher.code),
                "perk": voucher.perk.ref,
                "member": voucher.member.ref,
                "location": redemption.location.code if redemption.location else None,
                "channel": redemption.channel,
                "amount": redemption.amount,
                "currency": redemption.currency or None,
                "benefit": redemption.benefit,
                "occurred_at": redemption.occurred_at,
            },
        )
        member_lookup_record(
            member=voucher.member,
            merchant_ref=redemption.merchant.ref,
            merchant_name=redemption.merchant.name,
            purpose=LookupPurpose.REDEMPTION,
            at=redemption.created_at,
        )
        notification_add(
            member=voucher.member,
            kind="voucher_redeemed",
            dedupe_key=f"voucher_redeemed:{redemption.ref}",
            params={"perk": voucher.perk.title, "merchant": redemption.merchant.name},
        )
    return True


def reversal_side_effects_apply(*, reversal_id: int) -> bool:
    """The negative usage row and the `redemption.reversed` webhook; False when done before."""
    reversal = RedemptionReversal.objects.select_related(
        "redemption__voucher__perk", "redemption__voucher__member", "redemption__merchant"
    ).get(pk=reversal_id)
    redemption = reversal.redemption
    with transaction.atomic():
        if not _usage_record(redemption, UsageKind.REVERSAL):
            return False
        webhook_emit(
            merchant=redemption.merchant,
            type="redemption.reversed",
            data={
                "redemption": redemption.ref,
                "code": code_format(redemption.voucher.code),
                "perk": redemption.voucher.perk.ref,
                "member": redemption.voucher.member.ref,
                "reason": reversal.reason,
                "reversed_at": reversal.created_at,
            },
        )
    return True


def _usage_record(redemption: Redemption, kind: str) -> bool:
    """Insert the usage row of `kind`; False when it exists (the unique constraint decides)."""
    _, created = UsageRecord.objects.get_or_create(
        redemption=redemption,
        kind=kind,
        defaults={"merchant": redemption.merchant, "quantity": 1 if kind == UsageKind.REDEMPTION else -1},
    )
    return created
