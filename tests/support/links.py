"""Links between members and merchants, made as a member makes them: only a linked merchant
may name a member by ref (loyalty.members.selectors.member_linked_by_ref)."""

from loyalty.members.models import LinkStart, Member, MerchantLink
from loyalty.members.services import link_end, link_start
from perks.merchants.models import Merchant


def linked(member: Member, merchant: Merchant, how: str = LinkStart.SHARING) -> MerchantLink:
    """The member's active link with `merchant`, started now unless there is one."""
    return link_start(member=member, merchant_ref=merchant.ref, merchant_name=merchant.name, how=how)


def unlinked(member: Member, merchant: Merchant) -> MerchantLink:
    """The member linked with `merchant`, then ended the link."""
    return link_end(member=member, link_id=linked(member, merchant).pk)
