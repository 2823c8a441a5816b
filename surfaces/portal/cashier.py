"""The cashier's counter in the portal: check a voucher, redeem it, and undo a mistake.

Checking changes nothing (`voucher_validate`); redeeming goes through `voucher_redeem`
with the portal as its channel, so the counter keeps exactly the rules the API keeps.
Each form carries a one-time submission id: a double click, or a reload of the result
page, redeems once.
"""

import uuid
from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from loyalty.core.errors import DomainError
from perks.merchants.permissions import Permission
from perks.merchants.selectors import locations_of_merchant
from perks.vouchers.codes import code_format
from perks.vouchers.models import Redemption, RedemptionChannel
from perks.vouchers.selectors import redemption_by_ref, redemptions_of_merchant
from perks.vouchers.services import Validation, redemption_reverse, voucher_redeem, voucher_validate
from surfaces.portal.access import StaffRequest, may_use, portal_page
from surfaces.portal.forms import RedeemForm, ReversalForm
from surfaces.portal.pages import attempt, page_of

SUBMISSION_TTL = 60 * 60 * 24
# What the cashier reads for each part of a benefit, in the order that matters at a till.
BENEFIT_LABELS = {
    "waived_amount": "Deposit waived",
    "max_amount": "Waived up to",
    "discount_amount": "Discount",
    "percent": "Percent off",
    "min_spend": "Minimum spend",
    "margin_reduction_bps": "Margin reduced by (basis points)",
    "currencies": "For currencies",
    "entries_remaining": "Entries left after this one",
    "venue": "Venue",
    "item": "Item",
    "max_value": "Worth up to",
    "currency": "Currency",
}


@never_cache
@portal_page(permission=None)
def counter(request: StaffRequest) -> HttpResponse:
    locations = [
        (location.code, f"{location.code} · {location.name}")
        for location in locations_of_merchant(merchant=request.merchant)
    ]
    form = RedeemForm(request.POST or None, locations=locations, initial={"submission": uuid.uuid4().hex})
    context: dict[str, object] = {"form": form}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if "redeem" in request.POST:
            redemption = _redeem(request, data)
            context["redemption"] = redemption
            context["benefit_lines"] = benefit_lines(redemption.benefit if redemption else {})
        else:
            validation = _validate(request, data)
            context["validation"] = validation
            benefit = validation.benefit.as_dict() if validation and validation.benefit else {}
            context["benefit_lines"] = benefit_lines(benefit)
        form = RedeemForm(initial={**data, "submission": uuid.uuid4().hex}, locations=locations)
        context["form"] = form
    redemptions = redemptions_of_merchant(merchant=request.merchant).select_related(
        "voucher__perk", "location", "reversal"
    )
    context.update(
        {
            "recent": page_of(request, redemptions),
            "can_redeem": Permission.REDEMPTIONS_CREATE in request.permissions,
            "can_reverse": may_use(request, "portal:redemption-reversal"),
        }
    )
    return render(request, "portal/counter.html", context)


@require_POST
@portal_page(permission=Permission.REDEMPTIONS_REVERSE)
def redemption_reversal(request: StaffRequest, ref: str) -> HttpResponse:
    form = ReversalForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    attempt(
        request,
        lambda: redemption_reverse(
            redemption=redemption_by_ref(merchant=request.merchant, ref=ref),
            actor=request.user,
            reason=reason,
        ),
        "Redemption reversed: the use is back on the voucher.",
    )
    return redirect("portal:counter", slug=request.merchant.slug)


def _validate(request: StaffRequest, data: dict[str, object]) -> Validation | None:
    try:
        return voucher_validate(
            merchant=request.merchant,
            code=str(data["code"]),
            location_code=str(data["location"]) or None,
            amount=data["amount"],  # type: ignore[arg-type]
            currency=str(data["currency"]) or None,
        )
    except DomainError as error:
        messages.error(request, error.message)
        return None


def _redeem(request: StaffRequest, data: dict[str, object]) -> Redemption | None:
    if not cache.add(f"portal-redeem:{request.user.pk}:{data['submission']}", 1, SUBMISSION_TTL):
        messages.warning(request, "This form was already sent once; nothing more was redeemed.")
        return None
    try:
        redemption = voucher_redeem(
            merchant=request.merchant,
            actor=request.user,
            code=str(data["code"]),
            location_code=str(data["location"]) or None,
            amount=data["amount"],  # type: ignore[arg-type]
            currency=str(data["currency"]) or None,
            channel=RedemptionChannel.PORTAL,
        )
    except DomainError as error:
        messages.error(request, error.message)
        return None
    messages.success(request, f"Redeemed {code_format(redemption.voucher.code)}.")
    return redemption


def benefit_lines(benefit: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A benefit as (label, value) lines for the till, known parts first."""
    lines = [
        (label, ", ".join(value) if isinstance(value, list) else str(value))
        for key, label in BENEFIT_LABELS.items()
        if (value := benefit.get(key)) is not None
    ]
    if benefit.get("min_spend_met") is False:
        lines.append(("Minimum spend", "not reached: no discount"))
    return lines
