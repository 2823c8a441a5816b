"""The citizen app: a member's score and why, holds and how to lift them, consent, points,
and who looked them up (the member pass is in member_pass.py). Views read through selectors and act through
services; a refusal is shown on the page, in the member's language where the domain has it.
"""

from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from loyalty.core.errors import DomainError
from loyalty.core.replica import lag_tolerant
from loyalty.core.twofactor import TwoStepLoginView
from loyalty.members.selectors import member_consents, member_lookups
from loyalty.members.services import consent_set
from loyalty.points.selectors import points_balance, points_lots_expiring, points_statement
from loyalty.scoring.selectors import hold_of_member, holds_of_member
from loyalty.scoring.services import hold_appeal
from surfaces.app.access import MemberRequest, member_required
from surfaces.app.export import member_export
from surfaces.app.forms import AppealForm, ConsentForm, StatementPageForm
from surfaces.app.sharing import sharing_context

STATEMENT_PAGE = 20
LOOKUPS_SHOWN = 50


class LoginView(TwoStepLoginView):
    """E-mail and password; then the code, for the few members with a device (staff who
    enrolled one in the portal). Refused unhashed once locked out (config/lockout.py)."""

    template_name = "app/login.html"
    next_page = "app:home"
    code_step_url = "app:login-token"


@member_required
def holds(request: MemberRequest) -> HttpResponse:
    return render(
        request, "app/holds.html", {"holds": holds_of_member(member=request.member), "form": AppealForm()}
    )


@require_POST
@member_required
def hold_appeal_file(request: MemberRequest, ref: str) -> HttpResponse:
    form = AppealForm(request.POST)
    if form.is_valid():
        try:
            hold = hold_of_member(member=request.member, ref=ref)
            hold_appeal(hold=hold, member=request.member, text=form.cleaned_data["text"])
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Your appeal is filed. An operator will decide and tell you why."))
    else:
        messages.error(request, " ".join(str(error) for error in form.errors.get("text", [])))
    return redirect("app:holds")


@member_required
def consents(request: MemberRequest) -> HttpResponse:
    if request.method == "POST":
        form = ConsentForm(request.POST)
        if form.is_valid():
            consent_set(
                member=request.member,
                dimension=form.cleaned_data["dimension"],
                granted=form.cleaned_data["granted"],
                source="app",
            )
            messages.success(request, _("Saved. Your score will be recomputed in a moment."))
        return redirect("app:consents")
    return render(
        request,
        "app/consents.html",
        {"consents": member_consents(member=request.member), **sharing_context(member=request.member)},
    )


@require_GET
@member_required
@lag_tolerant
def points(request: MemberRequest) -> HttpResponse:
    page_form = StatementPageForm(request.GET)
    after = page_form.cleaned_data["after"] if page_form.is_valid() else None
    try:
        page = points_statement(member=request.member, limit=STATEMENT_PAGE, starting_after=after)
    except DomainError:
        return redirect("app:points")
    return render(
        request,
        "app/points.html",
        {
            "balance": points_balance(member=request.member),
            "expiring": points_lots_expiring(member=request.member, today=timezone.localdate()),
            "page": page,
            "next_after": page.lines[-1].id if page.has_more else None,
        },
    )


@require_GET
@member_required
@lag_tolerant
def privacy(request: MemberRequest) -> HttpResponse:
    return render(
        request,
        "app/privacy.html",
        {"lookups": member_lookups(member=request.member)[:LOOKUPS_SHOWN]},
    )


@require_GET
@member_required
@lag_tolerant
def privacy_export(request: MemberRequest) -> HttpResponse:
    """Everything held about the member, as a JSON file to keep (never cached on the way)."""
    response = JsonResponse(member_export(member=request.member), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="perkline-{request.member.ref}.json"'
    response["Cache-Control"] = "no-store"
    return response
