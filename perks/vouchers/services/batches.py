"""Offline batches: redemptions a point of sale made while it had no connection.

The upload is checked item by item and stored at once (202); a Celery task then applies
the items in order, each with `voucher_redeem` and the same rules as a live redemption,
on the time the POS recorded. An item's outcome (its redemption, or the refusal's code and
message) is written in the transaction that redeemed it, so an item is applied at most
once: a retried or duplicated task skips every item already done and carries on. When
none is left the batch is done, once, and `redemption_batch.completed` goes out.

The batch keeps its actor, so beat's sweep (`redemption_batches_due`) applies a batch
still pending after a grace period (its task was never queued: a broker that was down),
or one running for far longer than a batch takes (its worker was lost).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from loyalty.core.errors import DomainError, Invalid
from perks.catalog.money import purchase_parse
from perks.merchants.models import ApiKey, Merchant
from perks.merchants.permissions import Permission
from perks.merchants.services import Actor, actor_require, webhook_emit
from perks.vouchers.errors import RedemptionBatchNotFound
from perks.vouchers.models import (
    BatchItemStatus,
    BatchStatus,
    RedemptionBatch,
    RedemptionBatchItem,
    RedemptionChannel,
)
from perks.vouchers.tasks import redemption_batch_apply as redemption_batch_apply_task

log = logging.getLogger(__name__)

BATCH_MAX_ITEMS = 1000
# How far ahead of our clock a POS's clock may run; beyond it, a time is an error.
CLOCK_SKEW = timedelta(minutes=5)
# How old an offline redemption may be: a voucher's life is at most a year, and so is this.
MAX_AGE = timedelta(days=366)
FIELD_MAX_LENGTH = 64
ERROR_MESSAGE_MAX_LENGTH = 300
# A batch still pending this long after its upload lost its task; one running this long
# (a thousand items take seconds) lost its worker.
SWEEP_GRACE = timedelta(minutes=2)
SWEEP_STALLED = timedelta(minutes=15)
SWEEP_BATCHES = 20


@dataclass(frozen=True)
class BatchItem:
    code: str
    occurred_at: datetime
    location: str | None = None
    amount: Decimal | str | None = None
    currency: str | None = None


def redemption_batch_create(
    *, merchant: Merchant, actor: Actor, items: Sequence[BatchItem]
) -> RedemptionBatch:
    """Store the batch (pending) and apply it in the background, after commit."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.REDEMPTIONS_CREATE)
    if not 1 <= len(items) <= BATCH_MAX_ITEMS:
        raise Invalid(f"A batch has 1 to {BATCH_MAX_ITEMS:,} redemptions.", param="redemptions")
    now = timezone.now()
    rows = [_item_row(index, item, now) for index, item in enumerate(items)]
    actor_kind, actor_id = _actor_id(actor)
    with transaction.atomic():
        batch = RedemptionBatch.objects.create(
            merchant=merchant, created_by=_actor_label(actor), actor_kind=actor_kind, actor_id=actor_id
        )
        for row in rows:
            row.batch = batch
        RedemptionBatchItem.objects.bulk_create(rows)
        redemption_batch_apply_task.delay_on_commit(batch.pk, actor_kind, actor_id)
    return batch


def redemption_batch_apply(*, batch_id: int, actor: Actor) -> RedemptionBatch:
    """Apply the batch's pending items in order; finish it when none is left. Safe to run
    twice, or two at once: each item is applied under its row's lock, once."""
    from perks.vouchers.services import voucher_redeem

    RedemptionBatch.objects.filter(pk=batch_id, status=BatchStatus.PENDING).update(status=BatchStatus.RUNNING)
    batch = RedemptionBatch.objects.select_related("merchant").get(pk=batch_id)
    pending = RedemptionBatchItem.objects.filter(batch_id=batch_id, status=BatchItemStatus.PENDING)
    for item_id in pending.order_by("index").values_list("pk", flat=True):
        with transaction.atomic():
            item = pending.select_for_update(of=("self",)).filter(pk=item_id).first()
            if item is None:  # another copy of the task applied it meanwhile
                continue
            try:
                with transaction.atomic():
                    redemption = voucher_redeem(
                        merchant=batch.merchant,
                        actor=actor,
                        code=item.code,
                        location_code=item.location_code or None,
                        amount=item.amount,
                        currency=item.currency or None,
                        channel=RedemptionChannel.BATCH,
                        occurred_at=item.occurred_at,
                    )
            except DomainError as refusal:
                item.status = BatchItemStatus.FAILED
                item.error_code = refusal.code
                item.error_message = refusal.message[:ERROR_MESSAGE_MAX_LENGTH]
            else:
                item.status = BatchItemStatus.REDEEMED
                item.redemption = redemption
            item.save(update_fields=["status", "redemption", "error_code", "error_message"])
    _finish(batch)
    batch.refresh_from_db()
    return batch


def redemption_batches_due(*, limit: int = SWEEP_BATCHES, now: datetime | None = None) -> int:
    """Apply, oldest first, the batches their task left undone (beat): pending past the
    grace period, or running past the stall. A batch that is also being applied by its task
    meanwhile is safe, as any copy of the task is. The number of batches applied."""
    now = now or timezone.now()
    due = (
        RedemptionBatch.objects.filter(
            Q(status=BatchStatus.PENDING, created_at__lte=now - SWEEP_GRACE)
            | Q(status=BatchStatus.RUNNING, created_at__lte=now - SWEEP_STALLED)
        )
        .exclude(actor_id=None)
        .order_by("created_at")
        .values_list("pk", "actor_kind", "actor_id")
    )
    applied = 0
    for batch_id, actor_kind, actor_id in due[:limit]:
        actor = _uploader(batch_id, actor_kind, actor_id)
        if actor is not None:
            redemption_batch_apply(batch_id=batch_id, actor=actor)
            applied += 1
    return applied


def _uploader(batch_id: int, kind: str, actor_id: int | None) -> Actor | None:
    """The actor a batch was uploaded by, if it still exists (a deleted key or user is
    logged, and its batch left as it is)."""
    try:
        return redemption_batch_actor(kind=kind, actor_id=actor_id) if actor_id is not None else None
    except (ApiKey.DoesNotExist, User.DoesNotExist):
        log.warning("redemption batch %s not applied: its uploader no longer exists", batch_id)
        return None


def redemption_batch_by_ref(*, merchant: Merchant, ref: str) -> RedemptionBatch:
    """One of the merchant's batches, with its items in order (and their redemptions)."""
    items = RedemptionBatchItem.objects.select_related("redemption").order_by("index")
    batch = (
        RedemptionBatch.objects.prefetch_related(Prefetch("items", queryset=items))
        .filter(merchant=merchant, ref=ref)
        .first()
    )
    if batch is None:
        raise RedemptionBatchNotFound(param="batch")
    return batch


def redemption_batch_actor(*, kind: str, actor_id: int) -> Actor:
    """The actor a batch task was given by id (see `_actor_id`)."""
    if kind == "api_key":
        return ApiKey.objects.select_related("merchant").get(pk=actor_id)
    return User.objects.get(pk=actor_id)


def _finish(batch: RedemptionBatch) -> None:
    with transaction.atomic():
        finished = RedemptionBatch.objects.filter(pk=batch.pk, status=BatchStatus.RUNNING).update(
            status=BatchStatus.DONE, finished_at=timezone.now()
        )
        if not finished:
            return  # another copy of the task finished it
        outcomes = RedemptionBatchItem.objects.filter(batch=batch)
        webhook_emit(
            merchant=batch.merchant,
            type="redemption_batch.completed",
            data={
                "id": batch.ref,
                "status": BatchStatus.DONE,
                "redeemed": outcomes.filter(status=BatchItemStatus.REDEEMED).count(),
                "failed": outcomes.filter(status=BatchItemStatus.FAILED).count(),
            },
        )


def _item_row(index: int, item: BatchItem, now: datetime) -> RedemptionBatchItem:
    param = f"redemptions[{index}]"
    if not item.code or len(item.code) > FIELD_MAX_LENGTH:
        raise Invalid("Give the voucher's code.", param=f"{param}.code")
    if timezone.is_naive(item.occurred_at):
        raise Invalid("Give occurred_at with a time zone.", param=f"{param}.occurred_at")
    if item.occurred_at > now + CLOCK_SKEW:
        raise Invalid("occurred_at is in the future.", param=f"{param}.occurred_at")
    if item.occurred_at < now - MAX_AGE:
        raise Invalid("occurred_at is more than a year ago.", param=f"{param}.occurred_at")
    if item.location is not None and not 1 <= len(item.location) <= FIELD_MAX_LENGTH:
        raise Invalid("A location is its code, as the portal shows it.", param=f"{param}.location")
    amount, currency = purchase_parse(item.amount, item.currency, at=f"{param}.")
    return RedemptionBatchItem(
        index=index,
        code=item.code,
        occurred_at=item.occurred_at,
        location_code=item.location or "",
        amount=amount,
        currency=currency or "",
    )


def _actor_id(actor: Actor) -> tuple[str, int]:
    return ("api_key", actor.pk) if isinstance(actor, ApiKey) else ("user", actor.pk)


def _actor_label(actor: Actor) -> str:
    from perks.vouchers.services.actors import actor_label

    return actor_label(actor)
