"""Row locks of the voucher aggregate, each ordered by primary key so that two transactions
never wait on each other in a cycle.

Order across aggregates: a member's row (claims), then the perk (inventory), then the
points accounts; on the redemption side a voucher, then its reservations.
"""

from collections.abc import Iterable

from django.db.models import QuerySet

from loyalty.members.models import Member
from perks.merchants.models import Merchant
from perks.vouchers.models import Voucher
from perks.vouchers.sql import voucher_for_use


def member_claims_lock(member_id: int) -> None:
    """Serialise one member's claims and issues, so a per-member limit counted inside holds."""
    if not members_claims_lock([member_id]):
        raise Member.DoesNotExist(f"no member {member_id}")


def members_claims_lock(member_ids: Iterable[int] | QuerySet[Member, int]) -> list[int]:
    """The claims lock of many members at once, in primary-key order (a campaign chunk
    whose perk has a per-member limit); the ids that exist.

    FOR NO KEY UPDATE: it excludes other claims of the member, and not the inserts of rows
    that merely reference the member (a campaign's vouchers), which take FOR KEY SHARE.
    """
    ids = member_ids if isinstance(member_ids, QuerySet) else list(member_ids)
    return list(
        Member.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def voucher_lock(*, merchant: Merchant, code: str) -> Voucher | None:
    """The merchant's voucher of `code` (canonical), locked, with what a redemption reads."""
    return voucher_for_use(merchant=merchant, code=code, lock=True)


def voucher_lock_by_pk(voucher_id: int) -> Voucher:
    return (
        Voucher.objects.select_for_update(of=("self",))
        .select_related("perk__merchant", "member")
        .get(pk=voucher_id)
    )


def vouchers_lock(voucher_ids: Iterable[int]) -> list[int]:
    """Lock these vouchers in primary-key order; the ids that exist."""
    return list(
        Voucher.objects.select_for_update(of=("self",))
        .filter(pk__in=list(voucher_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
