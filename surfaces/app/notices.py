"""What each kind of notification says to the member, in their language.

Services store a notification's kind and the plain values it needs; the words live here,
beside the screens that show them. A kind written by a newer service than this table
knows is still shown, as a neutral line, rather than as its raw name.

A campaign sends a voucher to up to millions of members at once and writes no
notification row for each: the voucher it sent is the message, worded here like one.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from loyalty.members.models import Member
from loyalty.members.selectors import member_notifications
from perks.vouchers.selectors import vouchers_sent_to_member

CAMPAIGN_VOUCHER_KIND = "voucher_received"


@dataclass(frozen=True)
class Notice:
    at: datetime
    text: str


def _texts() -> Mapping[str, str]:
    return {
        "points_expiring": _("%(points)s of your points expire on %(date)s. Use them before then."),
        "voucher_issued": _("%(merchant)s gave you a voucher: %(perk)s. It is in your wallet."),
        "voucher_received": _("%(merchant)s sent you a voucher: %(perk)s. It is in your wallet."),
        "voucher_redeemed": _("You used your voucher at %(merchant)s: %(perk)s."),
        "voucher_revoked": _("A voucher was withdrawn: %(perk)s. Reason given: %(reason)s"),
        "hold_placed": _(
            "%(merchant)s paused some of its perks for you. See Holds for why and how to lift it."
        ),
        "hold_lifted": _("%(merchant)s lifted its hold. Its perks are yours again."),
        "hold_expired": _("A hold by %(merchant)s has ended."),
        "hold_appeal_upheld": _("Your appeal was upheld: the hold by %(merchant)s is lifted."),
        "hold_appeal_rejected": _("Your appeal about %(merchant)s's hold was not upheld. See Holds for why."),
        "hold_appeal_closed": _("Your appeal was closed: the hold by %(merchant)s ended first."),
    }


def notices_of(*, member: Member, limit: int) -> list[Notice]:
    """The member's latest `limit` messages, newest first: their notifications, and the
    vouchers campaigns sent them."""
    written = [
        Notice(notification.created_at, notice_text(notification.kind, notification.params))
        for notification in member_notifications(member=member)[:limit]
    ]
    sent = [
        Notice(
            voucher.issued_at,
            notice_text(
                CAMPAIGN_VOUCHER_KIND, {"merchant": voucher.merchant.name, "perk": voucher.perk.title}
            ),
        )
        for voucher in vouchers_sent_to_member(member=member)[:limit]
    ]
    return sorted(written + sent, key=lambda notice: notice.at, reverse=True)[:limit]


def notice_text(kind: str, values: Mapping[str, Any]) -> str:
    text = _texts().get(kind)
    params: dict[str, Any] = {"merchant": "", "perk": "", "reason": "", **values}
    if text is None:
        return _("You have a new message from Perkline.")
    try:
        return text % params
    except (KeyError, TypeError, ValueError):
        return _("You have a new message from Perkline.")
