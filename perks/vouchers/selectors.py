"""Reading vouchers. Every merchant-side look-up is scoped to the merchant: another
merchant's object is as unknown as one that does not exist, and a voucher's member is
named to its merchant only while the member has a link with it (`voucher_member_ref`)."""

from django.db.models import Exists, OuterRef, QuerySet, Subquery

from loyalty.members.models import Member, MerchantLink
from perks.merchants.models import Merchant
from perks.vouchers.codes import code_normalize
from perks.vouchers.errors import RedemptionNotFound, ReservationNotFound, VoucherNotFound
from perks.vouchers.models import Redemption, Reservation, Voucher, VoucherSource


def voucher_by_code(*, merchant: Merchant, code: str) -> Voucher:
    """The merchant's voucher of `code`, written any way codes may be (case, hyphens, spaces)."""
    voucher = (
        Voucher.objects.select_related("perk", "member")
        .filter(merchant=merchant, code=code_normalize(code))
        .annotate(member_linked=_member_linked(merchant.ref))
        .first()
    )
    if voucher is None:
        raise VoucherNotFound(param="code")
    return voucher


def voucher_member_ref(*, voucher: Voucher) -> str | None:
    """The ref of the voucher's member as its merchant may see it: None while the member has
    no active link with the merchant, so a voucher a campaign or a tier sent tells the
    merchant nothing of who holds it. Read with the voucher by `voucher_by_code`, else asked."""
    linked = getattr(voucher, "member_linked", None)
    if linked is None:
        linked = MerchantLink.objects.filter(
            member_id=voucher.member_id,
            merchant_ref=Subquery(Merchant.objects.filter(pk=voucher.merchant_id).values("ref")[:1]),
            ended_at__isnull=True,
        ).exists()
    return voucher.member.ref if linked else None


def redemption_by_ref(*, merchant: Merchant, ref: str) -> Redemption:
    redemption = _redemptions().filter(merchant=merchant, ref=ref).first()
    if redemption is None:
        raise RedemptionNotFound(param="redemption")
    return redemption


def redemptions_of_merchant(*, merchant: Merchant) -> QuerySet[Redemption]:
    """Newest first."""
    return _redemptions().filter(merchant=merchant).order_by("-created_at", "-id")


def voucher_last_use(*, voucher: Voucher) -> Redemption | None:
    """The voucher's latest redemption that still stands (not reversed), with its location:
    when and where it was used, for a counter refusing it again."""
    return (
        Redemption.objects.select_related("location")
        .filter(voucher=voucher, reversal__isnull=True)
        .order_by("-occurred_at", "-id")
        .first()
    )


def reservation_by_ref(*, merchant: Merchant, ref: str) -> Reservation:
    reservation = Reservation.objects.select_related("voucher").filter(merchant=merchant, ref=ref).first()
    if reservation is None:
        raise ReservationNotFound(param="reservation")
    return reservation


def vouchers_of_member(*, member: Member) -> QuerySet[Voucher]:
    """The member's wallet, newest first."""
    return (
        Voucher.objects.filter(member=member).select_related("perk", "merchant").order_by("-issued_at", "-id")
    )


def vouchers_sent_to_member(*, member: Member) -> QuerySet[Voucher]:
    """The vouchers campaigns sent the member, newest first: each is a message to them, as
    a campaign writes no notification row of its own per member."""
    return vouchers_of_member(member=member).filter(source=VoucherSource.CAMPAIGN)


def _member_linked(merchant_ref: str) -> Exists:
    return Exists(
        MerchantLink.objects.filter(
            member_id=OuterRef("member_id"), merchant_ref=merchant_ref, ended_at__isnull=True
        )
    )


def _redemptions() -> QuerySet[Redemption]:
    return Redemption.objects.select_related("voucher__perk", "voucher__member", "location", "reversal")
