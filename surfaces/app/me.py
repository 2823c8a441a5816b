"""Me: the member's own corner of the app. Who is signed in, then every page that is not
Score, Perks or Wallet, grouped, each with a count or a short status where one is cheap to
read; the language switch and signing out. Also the member's messages, a page of their own."""

from dataclasses import dataclass

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from loyalty.core.replica import lag_tolerant
from loyalty.members.selectors import member_consents
from loyalty.points.selectors import points_balance
from loyalty.scoring.selectors import holds_of_member
from perks.billing.selectors import deposits_of_member
from surfaces.app.access import MemberRequest, member_required
from surfaces.app.deposits import PENDING
from surfaces.app.notices import notices_of
from surfaces.app.templatetags.app_format import points

MESSAGES_SHOWN = 50


@dataclass(frozen=True)
class Row:
    url_name: str
    label: str
    icon: str
    status: str = ""
    attention: bool = False  # the member has something to do there


@dataclass(frozen=True)
class Group:
    title: str
    rows: list[Row]


@require_GET
@member_required
def me(request: MemberRequest) -> HttpResponse:
    member = request.member
    return render(
        request,
        "app/me.html",
        {"groups": _groups(request), "erasure_requested": member.erasure_requested_at is not None},
    )


def _groups(request: MemberRequest) -> list[Group]:
    member = request.member
    active_holds = sum(1 for hold in holds_of_member(member=member) if hold.is_active)
    consents = member_consents(member=member)
    shared = sum(1 for consent in consents if consent.granted)
    waiting = deposits_of_member(member=member).filter(status__in=PENDING).count()
    return [
        Group(
            _("Score and data"),
            [
                Row("app:points", _("Points"), "points", points(points_balance(member=member))),
                Row(
                    "app:holds",
                    _("Holds"),
                    "hold",
                    _("%(count)s active") % {"count": active_holds} if active_holds else _("None"),
                    attention=bool(active_holds),
                ),
                Row(
                    "app:consents",
                    _("Sharing"),
                    "share",
                    _("%(shared)s of %(all)s shared") % {"shared": shared, "all": len(consents)},
                ),
                Row("app:events", _("Your data and events"), "data"),
            ],
        ),
        Group(
            _("At the counter"),
            [
                Row("app:pass", _("Member pass"), "pass", _("Needs a connection")),
                Row(
                    "app:deposits",
                    _("Deposits"),
                    "deposit",
                    _("%(count)s waiting for you") % {"count": waiting} if waiting else "",
                    attention=bool(waiting),
                ),
            ],
        ),
        Group(
            _("Messages and privacy"),
            [
                Row("app:messages", _("Messages"), "messages"),
                Row("app:privacy", _("Privacy"), "privacy"),
            ],
        ),
        Group(_("Account"), [Row("app:account", _("Account and password"), "account")]),
    ]


@require_GET
@member_required
@lag_tolerant
def member_messages(request: MemberRequest) -> HttpResponse:
    """What Perkline told the member, newest first: notifications and vouchers campaigns sent."""
    return render(
        request, "app/messages.html", {"notices": notices_of(member=request.member, limit=MESSAGES_SHOWN)}
    )
