"""Refusals about a voucher, with the partner API's codes (docs/integration.md).

409 (Conflict) when the voucher's state forbids the request right now (another use or
reservation may change that); 422 (Refused) when the voucher itself rules it out.
"""

from loyalty.core.errors import Conflict, NotFound, Refused
from perks.vouchers.codes import UnknownCode


class VoucherNotFound(UnknownCode):
    """A code of no voucher of this merchant: a typo, an unknown code and another merchant's
    voucher get the same answer."""


class RedemptionNotFound(NotFound):
    default_message = "No such redemption."


class ReservationNotFound(NotFound):
    default_message = "No such reservation."


class RedemptionBatchNotFound(NotFound):
    default_message = "No such redemption batch."


class VoucherAlreadyRedeemed(Conflict):
    code = "voucher_already_redeemed"
    default_message = "This voucher has no use left."


class VoucherReserved(Conflict):
    code = "voucher_reserved"
    default_message = "The uses left on this voucher are held for a checkout in progress."


class ReservationNotActive(Conflict):
    code = "reservation_not_active"
    default_message = "This reservation is no longer held: it was used, released or has expired."


class ReversalWindowClosed(Conflict):
    code = "reversal_window_closed"
    default_message = "This redemption is too old to be reversed."


class AlreadyReversed(Conflict):
    code = "already_reversed"
    default_message = "This redemption has already been reversed."


class VoucherExpired(Refused):
    code = "voucher_expired"
    default_message = "This voucher has expired."


class VoucherRevoked(Refused):
    code = "voucher_revoked"
    default_message = "This voucher was withdrawn by the merchant."


class VoucherNotYetValid(Refused):
    code = "voucher_not_yet_valid"
    default_message = "This voucher cannot be used yet."
