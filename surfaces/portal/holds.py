"""Holds in the portal: a manager or an owner places one on a member linked to the merchant,
follows it and its appeals, and lifts it once they confirm. The rules are the services'
(perks/merchants/services/holds.py), the same the partner API keeps; a refusal lands on
the form's field. Cashiers have no business with members' holds: every page is a 403 to them.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from loyalty.core.errors import DomainError, NotFound
from loyalty.core.replica import lag_tolerant
from loyalty.scoring.models import AppealStatus, Hold, HoldAppeal
from loyalty.scoring.selectors import (
    HOLD_ACTIVE,
    HOLD_EXPIRED,
    HOLD_LIFTED,
    HOLD_OVERTURNED,
    hold_appeal_latest,
    hold_of_merchant,
    hold_state,
    holds_of_merchant,
)
from perks.merchants.permissions import Permission
from perks.merchants.services.holds import (
    merchant_hold_appeal_decline,
    merchant_hold_lift,
    merchant_hold_place,
)
from surfaces.portal.access import StaffRequest, portal_page
from surfaces.portal.forms import HoldFilterForm, HoldForm, HoldLiftForm
from surfaces.portal.pages import attempt, page_of
from surfaces.portal.people_forms import AppealAnswerForm

STATE_LABELS = {
    HOLD_ACTIVE: gettext_lazy("In force"),
    HOLD_LIFTED: gettext_lazy("Lifted"),
    HOLD_EXPIRED: gettext_lazy("Expired"),
    HOLD_OVERTURNED: gettext_lazy("Overturned on appeal"),
}


@dataclass(frozen=True)
class HoldRow:
    hold: Hold
    state: str
    state_label: str
    appeal: HoldAppeal | None


@never_cache
@portal_page(permission=Permission.HOLDS_MANAGE)
@lag_tolerant
def holds(request: StaffRequest) -> HttpResponse:
    """The merchant's holds, those in force first, and a new one."""
    form = HoldForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        placed = _place(request, form)
        if placed is not None:
            messages.success(
                request, _("The hold is placed. The member has been told why and how to lift it.")
            )
            return redirect("portal:hold", slug=request.merchant.slug, ref=placed.ref)
    show = HoldFilterForm(request.GET, states=[(state, str(label)) for state, label in STATE_LABELS.items()])
    state = (show.cleaned_data["status"] or None) if show.is_valid() else None
    listed = page_of(
        request, holds_of_merchant(merchant_ref=request.merchant.ref, state=state, active_first=True)
    )
    return render(
        request,
        "portal/holds.html",
        {
            "holds": listed,
            "rows": [_row(hold) for hold in listed],
            "form": form,
            "show": show,
            "state": state,
        },
    )


@require_GET
@portal_page(permission=Permission.HOLDS_MANAGE)
def hold(request: StaffRequest, ref: str) -> HttpResponse:
    """One hold: what the member reads, its appeals and the answer to an open one, and lifting it."""
    found = _hold(request, ref)
    row = _row(found)
    open_appeal = row.appeal if row.appeal and row.appeal.status == AppealStatus.OPEN else None
    return render(
        request,
        "portal/hold.html",
        {
            "row": row,
            "appeals": list(found.appeals.all()),
            "lift_form": HoldLiftForm(),
            "open_appeal": open_appeal,
            "answer_form": AppealAnswerForm(),
        },
    )


@require_POST
@portal_page(permission=Permission.HOLDS_MANAGE)
def hold_appeal_answer(request: StaffRequest, ref: str) -> HttpResponse:
    """Accept a member's appeal, which lifts the hold, or decline it with a reason, which
    keeps the hold for Perkline's operators to decide."""
    found = _hold(request, ref)
    form = AppealAnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose an answer and say why; nothing was changed."))
    elif form.cleaned_data["answer"] == AppealAnswerForm.ACCEPT:
        note = _("Appeal accepted: %(reason)s") % {"reason": form.cleaned_data["reason"]}
        attempt(
            request,
            lambda: merchant_hold_lift(merchant=request.merchant, actor=request.user, hold=found, note=note),
            _("You accepted the appeal: the hold is lifted and the member has been told."),
        )
    else:
        attempt(
            request,
            lambda: merchant_hold_appeal_decline(
                merchant=request.merchant, actor=request.user, hold=found, reason=form.cleaned_data["reason"]
            ),
            _("You declined the appeal: the hold stays, and Perkline's operators will decide."),
        )
    return redirect("portal:hold", slug=request.merchant.slug, ref=found.ref)


@require_POST
@portal_page(permission=Permission.HOLDS_MANAGE)
def hold_lift(request: StaffRequest, ref: str) -> HttpResponse:
    found = _hold(request, ref)
    form = HoldLiftForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Tick the box to confirm the lift; nothing was changed."))
    else:
        attempt(
            request,
            lambda: merchant_hold_lift(
                merchant=request.merchant, actor=request.user, hold=found, note=form.cleaned_data["note"]
            ),
            _("The hold is lifted. The member has been told."),
        )
    return redirect("portal:hold", slug=request.merchant.slug, ref=found.ref)


def _place(request: StaffRequest, form: HoldForm) -> Hold | None:
    data = form.cleaned_data
    try:
        return merchant_hold_place(
            merchant=request.merchant,
            actor=request.user,
            member_ref=data["member"].strip(),
            reason_code=data["reason_code"],
            detail=data["detail"],
            expires_at=form.expires_at(),
            evidence=data["evidence"],
            lift_on="obligation_settled" if data["lift_on"] else "",
            obligation_ref=data["obligation_ref"],
            perk_type=data["perk_type"] or None,
        )
    except DomainError as error:
        field = HoldForm.FIELD_OF_PARAM.get(error.param or "", error.param)
        form.add_error(field if field in form.fields else None, error.message)
        return None


def _hold(request: StaffRequest, ref: str) -> Hold:
    try:
        return hold_of_merchant(merchant_ref=request.merchant.ref, ref=ref)
    except NotFound:
        raise Http404 from None


def _row(hold: Hold) -> HoldRow:
    state = hold_state(hold)
    return HoldRow(
        hold=hold, state=state, state_label=str(STATE_LABELS[state]), appeal=hold_appeal_latest(hold)
    )
