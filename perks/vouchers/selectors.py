"""Reading vouchers. Every merchant-side look-up is scoped to the merchant: another
merchant's object is as unknown as one that does not exist."""

from django.db.models import QuerySet

from loyalty.members.models import Member
from perks.merchants.models import Merchant
from perks.vouchers.codes import code_normalize
from perks.vouchers.errors import RedemptionNotFound, ReservationNotFound, VoucherNotFound
from perks.vouchers.models import Redemption, Reservation, Voucher, VoucherSource


def voucher_by_code(*, merchant: Merchant, code: str) -> Voucher:
    """The merchant's voucher of `code`, written any way codes may be (case, hyphens, spaces)."""
    voucher = (
        Voucher.objects.select_related("perk", "member")
        .filter(merchant=merchant, code=code_normalize(code))
        .first()
    )
    if voucher is None:
        raise VoucherNotFound(param="code")
    return voucher


def redemption_by_ref(*, merchant: Merchant, ref: str) -> Redemption:
    redemption = _redemptions().filter(merchant=merchant, ref=ref).first()
    if redemption is None:
        raise RedemptionNotFound(param="redemption")
    return redemption


def redemptions_of_merchant(*, merchant: Merchant) -> QuerySet[Redemption]:
    """Newest first."""
    return _redemptions().filter(merchant=merchant).order_by("-created_at", "-id")


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


def _redemptions() -> QuerySet[Redemption]:
    return Redemption.objects.select_related("voucher__perk", "voucher__member", "location", "reversal")
