"""Row locks of the voucher aggregate, each ordered by primary key so that two transactions
never wait on each other in a cycle.

Order across aggregates: a member's row (claims), then the perk (inventory), then the
points accounts; on the redemption side a voucher, then its reservations.
"""

from collections.abc import Iterable

from django.db.models import QuerySet

from loyalty.core.sql import Columns, database, instances, row_read
from loyalty.members.models import Member
from loyalty.scoring.models import MemberStanding, Tier
from perks.catalog.models import Perk
from perks.merchants.models import Merchant
from perks.vouchers.models import Voucher


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


# What a use of a voucher reads beside it (its state, the perk's rules, the member's
# standing for eligibility), joined into one query, written out: compiling its ORM form
# (six tables) took longer than running it. The merchant is the caller's, already read.
_VOUCHER = Columns(Voucher, "v")
_PERK = Columns(Perk, "p")
_MIN_TIER = Columns(Tier, "pt")
_MEMBER = Columns(Member, "mb")
_STANDING = Columns(MemberStanding, "s")
_TIER = Columns(Tier, "st")
_VOUCHER_USE_READS = (_VOUCHER, _PERK, _MIN_TIER, _MEMBER, _STANDING, _TIER)
_VOUCHER_USE_SQL = (
    f"SELECT {', '.join(c.select() for c in _VOUCHER_USE_READS)}"  # noqa: S608 (names from the models)
    f" FROM {_VOUCHER.table}"
    f" JOIN {_PERK.table} ON {_PERK.col('id')} = {_VOUCHER.col('perk')}"
    f" AND {_PERK.col('merchant')} = {_VOUCHER.col('merchant')}"
    f" LEFT JOIN {_MIN_TIER.table} ON {_MIN_TIER.col('id')} = {_PERK.col('min_tier')}"
    f" JOIN {_MEMBER.table} ON {_MEMBER.col('id')} = {_VOUCHER.col('member')}"
    f" LEFT JOIN {_STANDING.table} ON {_STANDING.col('member')} = {_MEMBER.col('id')}"
    f" LEFT JOIN {_TIER.table} ON {_TIER.col('id')} = {_STANDING.col('tier')}"
    f" WHERE {_VOUCHER.col('merchant')} = %s AND {_VOUCHER.col('code')} = %s"
)


def voucher_for_use(*, merchant: Merchant, code: str, lock: bool) -> Voucher | None:
    """The merchant's voucher of `code` (canonical) with what a use of it reads (its perk
    with the perk's minimum tier, its member with their standing and tier), locked when
    `lock`; None when the merchant has no such voucher."""
    db = database()
    sql = _VOUCHER_USE_SQL
    if lock and db.features.has_select_for_update_of:
        sql += f" FOR UPDATE OF {_VOUCHER.alias}"
    row = row_read(sql, [merchant.pk, code])
    if row is None:
        return None
    voucher, perk, min_tier, member, standing, tier = instances(row, _VOUCHER_USE_READS)
    perk.merchant, perk.min_tier = merchant, min_tier
    voucher.merchant, voucher.perk, voucher.member = merchant, perk, member
    if standing is not None:
        standing.tier = tier
    Member.standing.related.set_cached_value(member, standing)  # None: has none, read nothing more
    return voucher


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
