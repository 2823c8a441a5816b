"""Reading members: by ref, their consent, who looked them up, what they should be told."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from loyalty.members.errors import MemberNotFound
from loyalty.members.models import Consent, Dimension, Member, MemberLookup, Notification


@dataclass(frozen=True)
class ConsentState:
    dimension: str
    label: str
    granted: bool
    changed_at: datetime | None


def member_by_ref(ref: str) -> Member:
    member = Member.objects.filter(ref=ref).first()
    if member is None:
        raise MemberNotFound(param="member")
    return member


def member_ids_by_ref(refs: Iterable[str]) -> dict[str, int]:
    """The members these refs name, in one query; a ref that names none is left out."""
    return dict(Member.objects.filter(ref__in=set(refs)).values_list("ref", "pk"))


def member_consents(*, member: Member) -> list[ConsentState]:
    """Every dimension, shared or not; a dimension never chosen is not shared."""
    chosen = {consent.dimension: consent for consent in Consent.objects.filter(member=member)}
    return [
        ConsentState(
            dimension=dimension.value,
            label=str(dimension.label),
            granted=bool(chosen.get(dimension) and chosen[dimension].granted),
            changed_at=chosen[dimension].changed_at if dimension in chosen else None,
        )
        for dimension in Dimension
    ]


def member_lookups(*, member: Member) -> QuerySet[MemberLookup]:
    return MemberLookup.objects.filter(member=member).order_by("-looked_up_at", "-id")


def member_notifications(*, member: Member, unread_only: bool = False) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(member=member)
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-created_at", "-id")
