"""Sharing with merchants: the member's links, what each merchant reported, ending a link and
adding a merchant.

A merchant may name the member by ref, and report about them, only through a link the
member made (a pass shown there, one of its vouchers used, or added here). The member sees
every link they ever had, grouped by merchant, with what that merchant reported about them,
and ends one in a tap after being told what ending does and does not undo.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from loyalty.members.errors import LinkNotFound
from loyalty.members.models import LinkStart, Locale, Member, MerchantLink
from loyalty.members.selectors import member_links
from loyalty.members.services import link_end, link_start
from loyalty.scoring.models import DISPUTE_OPEN_STATUSES, DISPUTE_REMOVED_STATUSES, ScoreEvent
from loyalty.scoring.selectors import member_events_by_source
from perks.merchants.selectors import merchants_active
from surfaces.app.access import MemberRequest, member_required
from surfaces.app.forms import LinkAddForm

# The latest reports shown under each merchant; the events page has them all.
REPORTS_SHOWN = 20


@dataclass(frozen=True)
class Report:
    """One score event a merchant reported, as the member reads it."""

    label: str
    occurred_at: datetime
    effect: str
    counts: bool


@dataclass
class SharedMerchant:
    merchant_ref: str
    merchant_name: str
    links: list[MerchantLink] = field(default_factory=list)  # newest first
    reports: list[Report] = field(default_factory=list)  # newest first, up to REPORTS_SHOWN
    reported: int = 0  # how many events it reported in all

    @property
    def active(self) -> MerchantLink | None:
        return next((link for link in self.links if link.is_active), None)


def sharing_context(*, member: Member) -> dict[str, Any]:
    """What the Sharing page shows about merchants: every link by merchant (those shared with
    now first) with its reports, and the form to add one of the other active merchants."""
    shared: dict[str, SharedMerchant] = {}
    for link in member_links(member=member):
        entry = shared.setdefault(link.merchant_ref, SharedMerchant(link.merchant_ref, link.merchant_name))
        entry.links.append(link)
    zh = member.locale == Locale.SIMPLIFIED_CHINESE
    for ref, reported in member_events_by_source(member=member, sources=shared, latest=REPORTS_SHOWN).items():
        shared[ref].reported = reported.reported
        shared[ref].reports = [_report(event, zh=zh) for event in reported.latest]
    linked_now = {ref for ref, entry in shared.items() if entry.active is not None}
    return {
        "shared_merchants": list(shared.values()),
        "link_add_form": LinkAddForm(merchants=merchants_active().exclude(ref__in=linked_now)),
    }


def _report(event: ScoreEvent, *, zh: bool) -> Report:
    label = event.kind.label_zh if zh and event.kind.label_zh else event.kind.label
    dispute = getattr(event, "dispute", None)
    if dispute is not None and dispute.status in (*DISPUTE_OPEN_STATUSES, *DISPUTE_REMOVED_STATUSES):
        effect, counts = _("Disputed: %(status)s") % {"status": dispute.get_status_display()}, False
    elif event.cap:
        effect, counts = _("Not counted: %(why)s") % {"why": event.get_cap_display()}, False
    elif event.impact > 0:
        effect, counts = _("Raises your score"), True
    else:
        effect, counts = _("Lowers your score"), True
    return Report(label=label, occurred_at=event.occurred_at, effect=effect, counts=counts)


@require_POST
@member_required
def link_end_view(request: MemberRequest, link_id: int) -> HttpResponse:
    """End one of the member's own active links; anyone else's, or an ended one, is not found."""
    try:
        link = link_end(member=request.member, link_id=link_id)
    except LinkNotFound as missing:
        raise Http404(missing.message) from missing
    messages.success(
        request,
        _(
            "You no longer share with %(merchant)s: it can no longer look you up or report about you. "
            "What it reported before keeps counting until it ages out."
        )
        % {"merchant": link.merchant_name},
    )
    return redirect("app:consents")


@require_POST
@member_required
def link_add(request: MemberRequest) -> HttpResponse:
    """Share with a merchant the member picked from the active ones."""
    form = LinkAddForm(request.POST, merchants=merchants_active())
    if not form.is_valid():
        messages.error(request, _("Pick one of the merchants listed."))
        return redirect("app:consents")
    merchant = form.cleaned_data["merchant"]
    link_start(
        member=request.member, merchant_ref=merchant.ref, merchant_name=merchant.name, how=LinkStart.SHARING
    )
    messages.success(
        request,
        _("You now share with %(merchant)s: it may look you up and report what you do there.")
        % {"merchant": merchant.name},
    )
    return redirect("app:consents")
