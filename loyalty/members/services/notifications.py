"""Writing notifications: what a member should be told, written in the transaction that
caused it. Any part of the product calls these; the app reads them (members.selectors)."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from loyalty.core.partitioning import keys_insert_new
from loyalty.members.models import Member, Notification, NotificationKey


@dataclass(frozen=True)
class NotificationInput:
    member_id: int
    kind: str
    dedupe_key: str
    params: Mapping[str, object] = field(default_factory=dict)


def notification_add(
    *, member: Member, kind: str, dedupe_key: str, params: Mapping[str, object] | None = None
) -> None:
    """Add one notification; a second call with the same `dedupe_key` changes nothing."""
    notifications_add(items=[NotificationInput(member.pk, kind, dedupe_key, params or {})])


def notifications_add(*, items: Iterable[NotificationInput]) -> None:
    """Add each notification whose `dedupe_key` is new: the keys are claimed in NotificationKey
    first, in this transaction (notifications are partitioned by month on PostgreSQL, and a
    partitioned table keeps no unique key without its month), and only those rows written."""
    items = sorted(items, key=lambda item: item.dedupe_key)  # keys claimed in one order: no deadlock
    with transaction.atomic():
        claimed = keys_insert_new(NotificationKey, ((item.dedupe_key,) for item in items))
        fresh = {item.dedupe_key: item for item in reversed(items) if (item.dedupe_key,) in claimed}
        Notification.objects.bulk_create(
            [
                Notification(
                    member_id=item.member_id,
                    kind=item.kind,
                    dedupe_key=item.dedupe_key,
                    params=dict(item.params),
                )
                for item in fresh.values()
            ]
        )


def notification_mark_read(*, member: Member, notification_id: int, now: datetime | None = None) -> None:
    Notification.objects.filter(pk=notification_id, member=member, read_at__isnull=True).update(
        read_at=now or timezone.now()
    )
