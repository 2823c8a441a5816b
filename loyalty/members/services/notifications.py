"""Writing notifications: what a member should be told, written in the transaction that
caused it. Any part of the product calls these; the app reads them (members.selectors)."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from loyalty.members.models import Member, Notification


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
    Notification.objects.bulk_create(
        [
            Notification(
                member_id=item.member_id, kind=item.kind, dedupe_key=item.dedupe_key, params=dict(item.params)
            )
            for item in items
        ],
        ignore_conflicts=True,
    )


def notification_mark_read(*, member: Member, notification_id: int, now: datetime | None = None) -> None:
    Notification.objects.filter(pk=notification_id, member=member, read_at__isnull=True).update(
        read_at=now or timezone.now()
    )
