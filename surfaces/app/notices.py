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

from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from loyalty.members.models import Member
from loyalty.members.selectors import member_notifications
from loyalty.scoring.models import HoldReason
from loyalty.scoring.selectors import hold_lift_terms
from perks.catalog.wording import in_active_language, perk_title
from perks.vouchers.selectors import vouchers_sent_to_member

CAMPAIGN_VOUCHER_KIND = "voucher_received"


@dataclass(frozen=True)
class Notice:
    at: datetime
    text: str
    link: str = ""  # where the member acts on it: a hold, to read it in full or appeal it


def _texts() -> Mapping[str, str]:
    return {
        "points_expiring": _("%(points)s of your points expire on %(date)s. Use them before then."),
        "voucher_issued": _("%(merchant)s gave you a voucher: %(perk)s. It is in your wallet."),
        "voucher_received": _("%(merchant)s sent you a voucher: %(perk)s. It is in your wallet."),
        "voucher_redeemed": _("You used your voucher at %(merchant)s: %(perk)s."),
        "voucher_revoked": _("A voucher was withdrawn: %(perk)s. Reason given: %(reason)s"),
        "hold_placed": _(
            "%(merchant)s paused some of its perks for you. Why: %(why)s. How to lift it: %(lift)s "
            "It ends on %(until)s at the latest, and you can appeal it."
        ),
        "hold_lifted": _("%(merchant)s lifted its hold. Its perks are yours again."),
        "hold_expired": _("A hold by %(merchant)s has ended."),
        "hold_appeal_upheld": _("Your appeal was upheld: the hold by %(merchant)s is lifted."),
        "hold_appeal_rejected": _("Your appeal about %(merchant)s's hold was not upheld. See Holds for why."),
        "hold_appeal_closed": _("Your appeal was closed: the hold by %(merchant)s ended first."),
        "dispute_opened": _(
            "You disputed an event reported by %(merchant)s: it no longer counts. "
            "If nobody shows it is right by %(due)s, it is removed."
        ),
        "dispute_confirmed": _(
            "%(merchant)s stands by the event you disputed. It still does not count: "
            "an operator decides and tells you why."
        ),
        "dispute_upheld": _(
            "An operator found the event reported by %(merchant)s correct: it counts again. See Data for why."
        ),
        "dispute_overturned": _("Your dispute succeeded: the event reported by %(merchant)s is removed."),
        "dispute_lapsed": _(
            "Your dispute was not resolved in time, so the event reported by %(merchant)s is removed."
        ),
    }


def notices_of(*, member: Member, limit: int) -> list[Notice]:
    """The member's latest `limit` messages, newest first: their notifications, and the
    vouchers campaigns sent them."""
    written = [
        Notice(
            notification.created_at,
            notice_text(notification.kind, notification.params),
            notice_link(notification.kind, notification.params),
        )
        for notification in member_notifications(member=member)[:limit]
    ]
    sent = [
        Notice(
            voucher.issued_at,
            notice_text(
                CAMPAIGN_VOUCHER_KIND, {"merchant": voucher.merchant.name, "perk": perk_title(voucher.perk)}
            ),
        )
        for voucher in vouchers_sent_to_member(member=member)[:limit]
    ]
    return sorted(written + sent, key=lambda notice: notice.at, reverse=True)[:limit]


def notice_text(kind: str, values: Mapping[str, Any]) -> str:
    text = _texts().get(kind)
    params: dict[str, Any] = {"merchant": "", "perk": "", "reason": "", **values}
    # A perk's title is kept in both languages (`perk_zh` since perks have a Chinese one).
    params["perk"] = in_active_language(str(params["perk"]), str(params.get("perk_zh") or ""))
    if kind == "hold_placed":
        params.update(_hold_terms(values))
    if text is None:
        return _("You have a new message from Perkline.")
    try:
        return text % params
    except (KeyError, TypeError, ValueError):
        return _("You have a new message from Perkline.")


# Kinds about a hold still in force: the member reads it in full, and may appeal, there.
_HOLD_LINKED_KINDS = ("hold_placed", "hold_appeal_rejected")


def notice_link(kind: str, values: Mapping[str, Any]) -> str:
    if kind in _HOLD_LINKED_KINDS and values.get("hold"):
        return f"{reverse('app:holds')}#{values['hold']}"
    return ""


def _hold_terms(values: Mapping[str, Any]) -> dict[str, str]:
    """Why, how to lift it and until when, from the plain values a placement keeps; none
    for a notification written before it kept them (its text then falls back to neutral)."""
    expires_at = parse_datetime(str(values.get("expires_at", "")))
    if "reason_code" not in values or expires_at is None:
        return {}
    reason = values["reason_code"]
    return {
        "why": str(HoldReason(reason).label) if reason in HoldReason.values else reason,
        "lift": hold_lift_terms(
            lift_condition=str(values.get("lift_condition", "")),
            lift_on=str(values.get("lift_on", "")),
            obligation_ref=str(values.get("obligation_ref", "")),
            merchant_name=str(values.get("merchant", "")),
        ),
        "until": date_format(timezone.localtime(expires_at), "DATE_FORMAT"),
    }
