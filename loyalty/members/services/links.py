"""A member's links with merchants: started by the member (a pass shown, a voucher used,
Sharing in the app), ended by the member. Only a linked merchant may name the member or
report about them (members.selectors.member_linked_by_ref).

Starting is idempotent: a member already linked with that merchant keeps the link they
have, and a start racing another inserts one link between them, because the database
allows one active link per member and merchant.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.members.errors import LinkNotFound
from loyalty.members.models import LinkEnd, LinkStart, Member, MerchantLink
from loyalty.members.services.members import member_pass_verify


@dataclass(frozen=True)
class LinkInput:
    member_id: int
    merchant_ref: str
    merchant_name: str


def links_start(*, links: Iterable[LinkInput], how: str, at: datetime | None = None) -> None:
    """Start each link that is not active already, in one statement."""
    if how not in LinkStart.values:
        raise Invalid(f"A link starts by one of {', '.join(LinkStart.values)}.", param="how")
    at = at or timezone.now()
    MerchantLink.objects.bulk_create(
        [
            MerchantLink(
                member_id=link.member_id,
                merchant_ref=link.merchant_ref,
                merchant_name=link.merchant_name,
                started_at=at,
                started_by=how,
            )
            for link in links
        ],
        ignore_conflicts=True,
    )


def link_start(*, member: Member, merchant_ref: str, merchant_name: str, how: str) -> MerchantLink:
    """The member's active link with the merchant, started now unless there is one."""
    links_start(links=[LinkInput(member.pk, merchant_ref, merchant_name)], how=how)
    return MerchantLink.objects.get(member=member, merchant_ref=merchant_ref, ended_at__isnull=True)


def member_pass_show(*, token: str, merchant_ref: str, merchant_name: str) -> Member:
    """The member whose pass a merchant scanned, now linked with that merchant: showing the
    pass is the member making themselves known there. A pass that does not verify links
    nobody."""
    member = member_pass_verify(token=token)
    links_start(links=[LinkInput(member.pk, merchant_ref, merchant_name)], how=LinkStart.PASS)
    return member


def link_end(*, member: Member, link_id: int, how: str = LinkEnd.MEMBER) -> MerchantLink:
    """End one of the member's active links: the merchant's new reports and member-ref calls
    are refused from now on, while what it reported before keeps counting until it ages out."""
    with transaction.atomic():
        link = (
            MerchantLink.objects.select_for_update()
            .filter(pk=link_id, member=member, ended_at__isnull=True)
            .first()
        )
        if link is None:
            raise LinkNotFound(param="link")
        link.ended_at, link.ended_by = timezone.now(), how
        link.save(update_fields=["ended_at", "ended_by"])
    return link
