"""The cashier's counter in the portal: check a voucher, redeem it, and undo a mistake.

Checking changes nothing (`voucher_validate`); redeeming goes through `voucher_redeem`
with the portal as its channel, so the counter keeps exactly the rules the API keeps.
Each form carries a one-time submission id: a double click, or a reload of the result
page, redeems once. Every refusal is a sentence next to the field it is about, from
`counter_messages`. Without JavaScript the page works the same: after a redemption the
server answers an empty, focused field; the location picked is remembered per device in
a cookie; the camera (static/js/portal/counter.js) only adds a way to fill the field.
"""

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from loyalty.core.errors import DomainError
from loyalty.core.headers import permissions_policy
from perks.billing.selectors import merchant_currency
from perks.catalog.wording import perk_title
from perks.merchants.permissions import Permission
from perks.merchants.selectors import locations_of_merchant
from perks.vouchers.codes import code_format
from perks.vouchers.models import RedemptionChannel
from perks.vouchers.selectors import redemption_by_ref, redemptions_of_merchant
from perks.vouchers.services import redemption_reverse, voucher_redeem, voucher_validate
from surfaces.portal.access import StaffRequest, may_use, portal_page
from surfaces.portal.counter_forms import RedeemForm, ReversalForm
from surfaces.portal.counter_messages import counter_message, error_message
from surfaces.portal.pages import page_of

SUBMISSION_TTL = 60 * 60 * 24
# The location a device's counter stands at, for that merchant's counter only.
LOCATION_COOKIE = "counter_location"
LOCATION_COOKIE_AGE = timedelta(days=365)
# The counter may ask for the camera to scan codes; every other page keeps it off.
COUNTER_PERMISSIONS_POLICY = permissions_policy({**settings.PERMISSIONS_POLICY, "camera": ["self"]})
# What the cashier reads for each part of a benefit, in the order that matters at a till.
BENEFIT_LABELS = {
    "waived_amount": gettext_lazy("Deposit waived"),
    "max_amount": gettext_lazy("Waived up to"),
    "discount_amount": gettext_lazy("Discount"),
    "percent": gettext_lazy("Percent off"),
    "min_spend": gettext_lazy("Minimum spend"),
    "margin_reduction_bps": gettext_lazy("Margin reduced by (basis points)"),
    "currencies": gettext_lazy("For currencies"),
    "entries_remaining": gettext_lazy("Entries left after this one"),
    "venue": gettext_lazy("Venue"),
    "item": gettext_lazy("Item"),
    "max_value": gettext_lazy("Worth up to"),
    "currency": gettext_lazy("Currency"),
}


@never_cache
@portal_page(permission=None)
def counter(request: StaffRequest) -> HttpResponse:
    locations = [
        (location.code, f"{location.code} · {location.name}")
        for location in locations_of_merchant(merchant=request.merchant)
    ]
    currency = merchant_currency(merchant=request.merchant)
    context: dict[str, object] = {}
    if request.method == "POST":
        form = RedeemForm(request.POST, locations=locations, currency=currency)
        if form.is_valid():
            context.update(_check(request, form) if "check" in request.POST else _redeem(request, form))
        if context.get("redemption"):
            data = form.cleaned_data
            form = _blank(locations, currency, location=data["location"], currency_kept=data["currency"])
        else:
            _renew_submission(form)
    else:
        form = _blank(locations, currency, location=request.COOKIES.get(LOCATION_COOKIE, ""))
    redemptions = redemptions_of_merchant(merchant=request.merchant).select_related(
        "voucher__perk", "location", "reversal"
    )
    context.update(
        {
            "form": form,
            "recent": page_of(request, redemptions),
            "can_redeem": Permission.REDEMPTIONS_CREATE in request.permissions,
            "can_reverse": may_use(request, "portal:redemption-reversal"),
        }
    )
    response = render(request, "portal/counter.html", context)
    response.headers["Permissions-Policy"] = COUNTER_PERMISSIONS_POLICY
    if request.method == "POST" and "location" not in form.errors:
        _remember_location(request, response, str(form["location"].value() or ""))
    return response


@never_cache
@portal_page(permission=Permission.REDEMPTIONS_REVERSE)
def redemption_reversal(request: StaffRequest, ref: str) -> HttpResponseBase:
    """Asks first (GET), saying what a reversal does; reverses on the confirmation's POST."""
    try:
        redemption = redemption_by_ref(merchant=request.merchant, ref=ref)
    except DomainError:
        raise Http404 from None
    form = ReversalForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            redemption_reverse(redemption=redemption, actor=request.user, reason=form.cleaned_data["reason"])
        except DomainError as error:
            form.add_error(None, counter_message(error.code))
        else:
            messages.success(
                request,
                _("Reversed the redemption of %(perk)s: the use is back on its voucher.")
                % {"perk": perk_title(redemption.voucher.perk)},
            )
            return redirect("portal:counter", slug=request.merchant.slug)
    until = redemption.created_at + settings.REDEMPTION_REVERSAL_WINDOW
    context = {
        "redemption": redemption,
        "form": form,
        "until": until,
        "too_late": timezone.now() > until,
        "reversed": hasattr(redemption, "reversal"),
    }
    return render(request, "portal/counter_reversal.html", context)


def _check(request: StaffRequest, form: RedeemForm) -> dict[str, object]:
    data = form.cleaned_data
    try:
        validation = voucher_validate(merchant=request.merchant, code=data["code"], **_purchase(data))
    except DomainError as error:
        _refuse(request, form, error)
        return {}
    if not validation.valid:
        form.add_error(
            "code", counter_message(str(validation.reason), merchant=request.merchant, code=data["code"])
        )
        return {}
    benefit = validation.benefit.as_dict() if validation.benefit else {}
    return {"validation": validation, "benefit_lines": benefit_lines(benefit)}


def _redeem(request: StaffRequest, form: RedeemForm) -> dict[str, object]:
    data = form.cleaned_data
    if not cache.add(f"portal-redeem:{request.user.pk}:{data['submission']}", 1, SUBMISSION_TTL):
        messages.warning(request, _("This form was already sent once; nothing more was redeemed."))
        return {}
    try:
        redemption = voucher_redeem(
            merchant=request.merchant,
            actor=request.user,
            code=data["code"],
            channel=RedemptionChannel.PORTAL,
            **_purchase(data),
        )
    except DomainError as error:
        _refuse(request, form, error)
        return {}
    return {
        "redemption": redemption,
        "redeemed_code": code_format(redemption.voucher.code),
        "benefit_lines": benefit_lines(redemption.benefit),
    }


def _purchase(data: Mapping[str, Any]) -> dict[str, Any]:
    """Where and for how much, as the services take them: the currency goes with an amount
    only, as a perk in another currency would refuse a purchase that has none."""
    amount = data["amount"]
    return {
        "location_code": data["location"] or None,
        "amount": amount,
        "currency": (data["currency"] or None) if amount is not None else None,
    }


def _refuse(request: StaffRequest, form: RedeemForm, error: DomainError) -> None:
    """The refusal beside the field it is about: the code, unless the service named another."""
    field = error.param if error.param in ("location", "amount", "currency") else "code"
    form.add_error(
        field, error_message(error, merchant=request.merchant, code=form.cleaned_data.get("code", ""))
    )


def _blank(
    locations: list[tuple[str, str]], currency: str, *, location: str, currency_kept: str = ""
) -> RedeemForm:
    """An empty form for the next voucher, at the location (and in the currency) kept."""
    known = {code for code, _label in locations}
    initial = {
        "submission": uuid.uuid4().hex,
        "location": location if location in known else "",
        "currency": currency_kept or currency,
    }
    return RedeemForm(initial=initial, locations=locations, currency=currency)


def _renew_submission(form: RedeemForm) -> None:
    """A form shown again (refused, or only checked) gets a new submission id, so that
    sending it after a correction redeems, while a reload of a redemption still does not."""
    form.data = {**dict(form.data.items()), "submission": uuid.uuid4().hex}


def _remember_location(request: StaffRequest, response: HttpResponse, location: str) -> None:
    response.set_cookie(
        LOCATION_COOKIE,
        location,
        max_age=LOCATION_COOKIE_AGE,
        path=reverse("portal:counter", args=[request.merchant.slug]),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def benefit_lines(benefit: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A benefit as (label, value) lines for the till, known parts first."""
    lines = [
        (str(label), ", ".join(value) if isinstance(value, list) else str(value))
        for key, label in BENEFIT_LABELS.items()
        if (value := benefit.get(key)) is not None
    ]
    if benefit.get("min_spend_met") is False:
        lines.append((_("Minimum spend"), _("not reached: no discount")))
    return lines
