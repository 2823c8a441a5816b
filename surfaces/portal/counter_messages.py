"""What the counter tells a cashier when a code is refused, in one place: a sentence they
can act on for each refusal code.

The codes are the services' own (so the partner API's, which keeps answering with the
codes alone), plus the shapes of `code_shape`, read before any query: an empty field, a
word and a typo are each told apart from a code no voucher has. Some sentences name what
the voucher's history holds: when and where it was used, until when a hold runs. They say
no more than the cashier needs to answer the customer: never a hold's reason.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.core.errors import DomainError
from loyalty.scoring.selectors import hold_held_until
from perks.merchants.models import Merchant
from perks.vouchers.codes import CodeShape
from perks.vouchers.models import Voucher
from perks.vouchers.selectors import voucher_by_code, voucher_last_use

# Each refusal code and what a cashier reads; a code with a detail below says more when
# the voucher's history tells it.
MESSAGES: dict[str, Promise] = {
    CodeShape.EMPTY: gettext_lazy("Type or scan the voucher code."),
    CodeShape.MALFORMED: gettext_lazy(
        "That is not a voucher code: codes look like XXXX-XXXX-XXXX-X, 13 letters and digits."
    ),
    CodeShape.BAD_CHECK: gettext_lazy("Check the code: the last character does not match."),
    "not_found": gettext_lazy("No voucher here has this code."),
    "voucher_already_redeemed": gettext_lazy("This voucher is already used: no use is left on it."),
    "voucher_reserved": gettext_lazy(
        "This voucher's uses are held for a checkout in progress: try again once that checkout ends."
    ),
    "voucher_expired": gettext_lazy("This voucher has expired."),
    "voucher_not_yet_valid": gettext_lazy("This voucher cannot be used yet."),
    "voucher_revoked": gettext_lazy("This voucher was withdrawn and cannot be used."),
    "perk_inactive": gettext_lazy("This perk is not on offer at the moment, so its vouchers cannot be used."),
    "member_not_eligible": gettext_lazy("This perk's conditions are not met at the moment."),
    "member_on_hold": gettext_lazy("This member's perks here are on hold for now."),
    "inventory_exhausted": gettext_lazy("This perk has run out."),
    "limit_reached": gettext_lazy("This perk's limit for the member is reached."),
    "permission_denied": gettext_lazy(
        "You may not do this here: your role does not allow it, or Perkline has suspended this merchant."
    ),
    "service_unavailable": gettext_lazy(
        "A service this needs cannot be reached: nothing was done. Try again."
    ),
    "already_reversed": gettext_lazy("This redemption was already reversed."),
    "reversal_window_closed": gettext_lazy("This redemption is too old to be reversed."),
}
FALLBACK = gettext_lazy("This voucher cannot be used here.")


def counter_message(reason: str, *, merchant: Merchant | None = None, code: str = "") -> str:
    """The sentence for refusal `reason`, with the voucher of `code` at `merchant` read for
    the reasons that name a time or a place."""
    detail = DETAILS.get(reason)
    if detail is not None and merchant is not None:
        voucher = _voucher(merchant, code)
        sentence = detail(voucher) if voucher is not None else None
        if sentence:
            return sentence
    return str(MESSAGES.get(reason, FALLBACK))


def error_message(error: DomainError, *, merchant: Merchant | None = None, code: str = "") -> str:
    """A service's refusal as the counter says it. An invalid value keeps the service's own
    words, which name the value (an unknown location, an amount without its currency)."""
    if error.code == "validation_error":
        return error.message
    return counter_message(error.code, merchant=merchant, code=code)


def _used(voucher: Voucher) -> str | None:
    use = voucher_last_use(voucher=voucher)
    if use is None:
        return None
    when = {"day": _day(use.occurred_at), "time": _time(use.occurred_at)}
    today = timezone.localdate(use.occurred_at) == timezone.localdate()
    if use.location is None:
        if today:
            return _("Already used at %(time)s.") % when
        return _("Already used on %(day)s at %(time)s.") % when
    if today:
        return _("Already used at %(time)s at %(place)s.") % {**when, "place": use.location.name}
    return _("Already used on %(day)s at %(time)s at %(place)s.") % {**when, "place": use.location.name}


def _expired(voucher: Voucher) -> str:
    return _("This voucher expired on %(day)s at %(time)s.") % {
        "day": _day(voucher.expires_at),
        "time": _time(voucher.expires_at),
    }


def _not_yet_valid(voucher: Voucher) -> str:
    return _("This voucher can be used from %(day)s at %(time)s.") % {
        "day": _day(voucher.valid_from),
        "time": _time(voucher.valid_from),
    }


def _on_hold(voucher: Voucher) -> str | None:
    """Until when the hold runs, or, for a perk that asks for days without one, from when
    the member may use it: the date alone, as the member's own page says why."""
    now = timezone.now()
    perk = voucher.perk
    held_until = hold_held_until(
        member=voucher.member, merchant_ref=perk.merchant.ref, category=perk.type, at=now
    )
    if held_until is None:
        return None
    if held_until > now:
        return _("This member's perks here are on hold until %(day)s.") % {"day": _day(held_until)}
    if not perk.hold_free_days:
        return None
    usable_from = held_until + timedelta(days=perk.hold_free_days)
    return _("This perk needs time without a hold here: this member can use it from %(day)s.") % {
        "day": _day(usable_from)
    }


DETAILS: dict[str, Callable[[Voucher], str | None]] = {
    "voucher_already_redeemed": _used,
    "voucher_expired": _expired,
    "voucher_not_yet_valid": _not_yet_valid,
    "member_on_hold": _on_hold,
}


def _voucher(merchant: Merchant, code: str) -> Voucher | None:
    try:
        return voucher_by_code(merchant=merchant, code=code)
    except DomainError:
        return None


def _day(moment: datetime) -> str:
    """ "3 March" this year, "3 Mar 2027" another, in the active time zone and language."""
    local = timezone.localtime(moment)
    same_year = local.year == timezone.localdate().year
    return formats.date_format(local, "MONTH_DAY_FORMAT" if same_year else "DATE_FORMAT")


def _time(moment: datetime) -> str:
    return formats.time_format(timezone.localtime(moment), "TIME_FORMAT")
