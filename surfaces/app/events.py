"""The member's score data: every event recorded about them, who reported it, whether it
counts (or was capped or disputed), and "This is wrong" to dispute one.

A disputed event stops counting at once; its merchant may stand by it with evidence, an
operator then decides, and a dispute nobody resolves within 30 days is decided for the
member. The member reads each step here and in their messages.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from loyalty.core.errors import DomainError
from loyalty.core.replica import lag_tolerant
from loyalty.members.selectors import member_consents
from loyalty.scoring.selectors import member_event_rows, member_events
from loyalty.scoring.services import dispute_open
from surfaces.app.access import MemberRequest, member_required
from surfaces.app.forms import DisputeForm

PAGE_SIZE = 50


@require_GET
@member_required
@lag_tolerant
def events(request: MemberRequest) -> HttpResponse:
    member = request.member
    page = Paginator(member_events(member=member), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "app/events.html",
        {
            "page": page,
            "rows": member_event_rows(member=member, events=list(page.object_list), locale=member.locale),
            "shared": {consent.dimension for consent in member_consents(member=member) if consent.granted},
            "form": DisputeForm(),
        },
    )


@require_POST
@member_required
def event_dispute(request: MemberRequest, event_id: int) -> HttpResponse:
    form = DisputeForm(request.POST)
    if form.is_valid():
        try:
            dispute_open(member=request.member, event_id=event_id, reason=form.cleaned_data["reason"])
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _(
                    "Disputed. The event no longer counts: your score is recomputed in a moment. "
                    "The merchant has 30 days to answer, and we tell you each step."
                ),
            )
    else:
        messages.error(request, " ".join(str(error) for error in form.errors.get("reason", [])))
    return redirect("app:events")
