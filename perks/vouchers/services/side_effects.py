"""What follows a redemption or its reversal, run by a task after commit, safe to run twice.

The usage row is unique per (redemption, kind): whoever inserts it also writes the webhook
event, the look-up record, the notification and the member's link with the merchant, in
the same transaction, so a second run, or two at once, write each exactly once.

Redemptions are the outbox of their side effects: each is written with `side_effects_at`
empty, and `redemption_side_effects_due` applies every one still empty. A redemption's
commit wakes that drain (`redemption_side_effects_nudge`) at most once every
NUDGE_SECONDS in a process, NUDGE_SECONDS later, so the drain finds every redemption
committed before it starts: one message a burst, not one a redemption (a redemption's
own publish cost as much as its SQL, bench/redeem_api.py). Beat's sweep applies what a
crash between a commit and its wake-up, or a broker that was down, left behind; a
reversal's task has its sweep too (`reversal_side_effects_due`).

The drain takes a batch in one statement (it marks them applied, skipping rows another
drain holds) and applies it set-based, as `redemptions_side_effects_apply` does for given
redemptions: each kind of row in one statement for the whole batch, because one
redemption at a time through the ORM cost more than the redemption itself
(bench/redemption_side_effects.py). Reversals go the same way. The one-at-a-time
functions (`redemption_side_effects_apply`, `reversal_side_effects_apply`) are the
reference the set-based ones are held to (tests/perks/vouchers/test_sql.py).
"""

import threading
import time
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from loyalty.members.models import LinkStart, LookupPurpose
from loyalty.members.services import (
    LinkInput,
    NotificationInput,
    links_start,
    member_lookup_record,
    notification_add,
    notifications_add,
)
from perks.merchants.services import webhook_emit
from perks.merchants.services.webhooks.delivery import (
    WebhookEventInput,
    webhook_events_emit,
    webhook_sends_gathered,
)
from perks.vouchers.codes import code_format
from perks.vouchers.models import Redemption, RedemptionReversal, UsageKey, UsageKind, UsageRecord
from perks.vouchers.services.rollup import rollup_redemptions_count
from perks.vouchers.sql import due_claim, lookups_insert, usage_insert
from perks.vouchers.tasks import redemption_side_effects_due as drain

NUDGE_SECONDS = 0.5
DRAIN_BATCH = 500
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
    drain.enqueue_committed(countdown=NUDGE_SECONDS)


def redemption_side_effects_due(*, batch: int = DRAIN_BATCH) -> int:
    """Apply the side effects of every redemption still waiting for them, oldest first, a
    batch a transaction, set-based; rows another drain holds are skipped. The webhooks of
    the batches committed go out one task an endpoint every few seconds, and at the end.
    The number applied."""
    applied = 0
    with webhook_sends_gathered():
        while True:
            with transaction.atomic():
                now = timezone.now()
                due = due_claim(batch=batch, now=now)
                if due:
                    applied += _redemptions_apply(due, now)
            if len(due) < batch:
                return applied


class _Redeemed(NamedTuple):
    """What the side effects of a redemption read, one row of the batch's query."""

    id: int
    ref: str
    merchant_id: int
    merchant_ref: str
    merchant_name: str
    member_id: int
    member_ref: str
    code: str
    perk_ref: str
    perk_title: str
    perk_title_zh: str
    location_code: str | None
    channel: str
    amount: Decimal | None
    currency: str
    benefit: Any
    occurred_at: datetime
    created_at: datetime


_REDEEMED_READ = (
    "pk",
    "ref",
    "merchant_id",
    "merchant__ref",
    "merchant__name",
    "voucher__member_id",
    "voucher__member__ref",
    "voucher__code",
    "voucher__perk__ref",
    "voucher__perk__title",
    "voucher__perk__title_zh",
    "location__code",
    "channel",
    "amount",
    "currency",
    "benefit",
    "occurred_at",
    "created_at",
)


def redemptions_side_effects_apply(*, redemption_ids: Sequence[int], now: datetime | None = None) -> int:
    """`redemption_side_effects_apply` for a batch, in one transaction and a handful of
    statements whatever its size: the usage rows, then for the redemptions that got one
    now (and only for them) the webhook events and their deliveries, the look-up records,
    the notifications and the members' links with the merchants. The number recorded now."""
    now = now or timezone.now()
    with transaction.atomic():
        Redemption.objects.filter(pk__in=redemption_ids, side_effects_at=None).update(side_effects_at=now)
        return _redemptions_apply(redemption_ids, now)


def _redemptions_apply(redemption_ids: Sequence[int], now: datetime) -> int:
    """The side effects of these redemptions (marked applied already), in the caller's
    transaction."""
    fresh = usage_insert(redemption_ids=redemption_ids, kind=UsageKind.REDEMPTION, now=now)
    if not fresh:
        return 0
    rollup_redemptions_count(redemption_ids=fresh, kind=UsageKind.REDEMPTION)
    rows = [
        _Redeemed._make(row)
        for row in Redemption.objects.filter(pk__in=fresh).order_by("pk").values_list(*_REDEEMED_READ)
    ]
    webhook_events_emit(
        type="voucher.redeemed",
        events=[WebhookEventInput(row.merchant_id, _redeemed_event(row)) for row in rows],
        now=now,
    )
    lookups_insert(redemption_ids=fresh)
    notifications_add(
        items=[
            NotificationInput(
                row.member_id,
                "voucher_redeemed",
                f"voucher_redeemed:{row.ref}",
                {"perk": row.perk_title, "perk_zh": row.perk_title_zh, "merchant": row.merchant_name},
            )
            for row in rows
        ]
    )
    # In the order of the unique key, so that two drains starting the same links wait
    # for each other instead of deadlocking. One moment for the batch (links_start takes
    # one): when the link comes to exist, as the one-at-a-time path has it.
    links = {(row.merchant_ref, row.member_id): row.merchant_name for row in rows}
    links_start(
        links=[LinkInput(member_id, ref, name) for (ref, member_id), name in sorted(links.items())],
        how=LinkStart.REDEMPTION,
        at=now,
    )
    return len(fresh)


def _redeemed_event(row: _Redeemed) -> dict[str, Any]:
    """The `voucher.redeemed` webhook's data (docs/integration.md)."""
    return {
        "redemption": row.ref,
        "code": code_format(row.code),
        "perk": row.perk_ref,
        "member": row.member_ref,
        "location": row.location_code,
        "channel": row.channel,
        "amount": row.amount,
        "currency": row.currency or None,
        "benefit": row.benefit,
        "occurred_at": row.occurred_at,
    }


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
        rollup_redemptions_count(redemption_ids=[redemption_id], kind=UsageKind.REDEMPTION)
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
            params={
                "perk": voucher.perk.title,
                "perk_zh": voucher.perk.title_zh,
                "merchant": redemption.merchant.name,
            },
        )
        links_start(
            links=[LinkInput(voucher.member_id, redemption.merchant.ref, redemption.merchant.name)],
            how=LinkStart.REDEMPTION,
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
        rollup_redemptions_count(redemption_ids=[redemption.pk], kind=UsageKind.REVERSAL)
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


def reversal_side_effects_due(*, batch: int = DRAIN_BATCH) -> int:
    """Apply the side effects of the reversals still without their negative usage row,
    oldest first, up to `batch` a run: those whose task was never queued (a broker that
    was down) or was lost. Beat's sweep; one that runs beside the task records once, as
    the unique usage row decides. The number recorded now."""
    missing = UsageRecord.objects.filter(redemption_id=OuterRef("redemption_id"), kind=UsageKind.REVERSAL)
    pending = RedemptionReversal.objects.filter(~Exists(missing)).order_by("pk").values_list("pk", flat=True)
    due = list(pending[:batch])
    return reversals_side_effects_apply(reversal_ids=due) if due else 0


class _Reversed(NamedTuple):
    redemption_id: int
    ref: str
    merchant_id: int
    code: str
    perk_ref: str
    member_ref: str
    reason: str
    created_at: datetime


_REVERSED_READ = (
    "redemption_id",
    "redemption__ref",
    "redemption__merchant_id",
    "redemption__voucher__code",
    "redemption__voucher__perk__ref",
    "redemption__voucher__member__ref",
    "reason",
    "created_at",
)


def reversals_side_effects_apply(*, reversal_ids: Sequence[int], now: datetime | None = None) -> int:
    """`reversal_side_effects_apply` for a batch, set-based as redemptions' are: the
    negative usage rows, and the `redemption.reversed` webhooks of those that got one now.
    The number recorded now."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = [
            _Reversed._make(row)
            for row in RedemptionReversal.objects.filter(pk__in=reversal_ids)
            .order_by("pk")
            .values_list(*_REVERSED_READ)
        ]
        fresh = set(
            usage_insert(redemption_ids=[row.redemption_id for row in rows], kind=UsageKind.REVERSAL, now=now)
        )
        rollup_redemptions_count(redemption_ids=sorted(fresh), kind=UsageKind.REVERSAL)
        webhook_events_emit(
            type="redemption.reversed",
            events=[
                WebhookEventInput(
                    row.merchant_id,
                    {
                        "redemption": row.ref,
                        "code": code_format(row.code),
                        "perk": row.perk_ref,
                        "member": row.member_ref,
                        "reason": row.reason,
                        "reversed_at": row.created_at,
                    },
                )
                for row in rows
                if row.redemption_id in fresh
            ],
            now=now,
        )
    return len(fresh)


def _usage_record(redemption: Redemption, kind: str) -> bool:
    """Insert the usage row of `kind`; False when it exists (its UsageKey's primary key decides)."""
    _, created = UsageKey.objects.get_or_create(redemption=redemption, kind=kind)
    if created:
        UsageRecord.objects.create(
            redemption=redemption,
            kind=kind,
            merchant=redemption.merchant,
            quantity=1 if kind == UsageKind.REDEMPTION else -1,
        )
    return created
