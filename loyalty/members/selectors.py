"""Reading members: by ref (for a merchant, only through a link the member made with it),
their consent, their links with merchants, who looked them up, what they should be told."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, QuerySet

from loyalty.members.errors import MemberNotFound
from loyalty.members.models import Consent, Dimension, Member, MemberLookup, MerchantLink, Notification


@dataclass(frozen=True)
class ConsentState:
    dimension: str
    label: str
    granted: bool
    changed_at: datetime | None


def member_linked_by_ref(*, ref: str, merchant_ref: str) -> Member:
    """The member `ref` names, if they have an active link with this merchant. Otherwise the
    same not-found as for a ref that names nobody: no merchant learns who exists."""
    member = Member.objects.filter(
        ref=ref, links__merchant_ref=merchant_ref, links__ended_at__isnull=True
    ).first()
    if member is None:
        raise MemberNotFound(param="member")
    return member


def linked_member_ids_by_ref(*, refs: Iterable[str], merchant_ref: str) -> dict[str, int]:
    """The members these refs name who have an active link with this merchant, in one query."""
    return dict(
        Member.objects.filter(
            ref__in=set(refs), links__merchant_ref=merchant_ref, links__ended_at__isnull=True
        ).values_list("ref", "pk")
    )


def linked_member_ids(*, member_ids: Iterable[int], merchant_ref: str) -> set[int]:
    """Which of these members have an active link with this merchant."""
    return set(
        MerchantLink.objects.filter(
            member_id__in=set(member_ids), merchant_ref=merchant_ref, ended_at__isnull=True
        ).values_list("member_id", flat=True)
    )


def member_links(*, member: Member) -> QuerySet[MerchantLink]:
    """Every link the member has had, active ones first, newest first."""
    return MerchantLink.objects.filter(member=member).order_by(
        F("ended_at").desc(nulls_first=True), "-started_at", "-id"
    )


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
