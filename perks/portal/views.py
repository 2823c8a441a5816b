"""The merchant portal: perks, keys, webhooks and the audit trail of one merchant.

Views parse, call one service or selector, and render; every rule (who may do what, which
status may follow which) is the services'. A refusal becomes a message on the page.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from loyalty.core.errors import DomainError, NotFound, PermissionDenied
from loyalty.scoring.selectors import tiers
from perks.catalog.rules import PERK_TRANSITIONS
from perks.catalog.selectors import perk_by_ref, perks_live_of_merchant, perks_of_merchant
from perks.catalog.services import perk_transition
from perks.merchants.models import ApiKey, WebhookDelivery
from perks.merchants.permissions import Permission
from perks.merchants.selectors import (
    api_keys_of_merchant,
    audit_entries_of_merchant,
    staff_memberships,
    webhook_deliveries_of_merchant,
    webhook_endpoints_of_merchant,
)
from perks.merchants.services import (
    api_key_create,
    api_key_revoke,
    webhook_delivery_retry,
    webhook_endpoint_create,
)
from perks.portal.access import StaffRequest, staff_required
from perks.portal.forms import ApiKeyForm, CampaignForm, WebhookEndpointForm
from perks.vouchers.campaigns.selectors import (
    campaign_by_ref,
    campaign_codes_csv,
    campaign_progress,
    campaigns_of_merchant,
)
from perks.vouchers.campaigns.services import campaign_create
from perks.vouchers.models import Campaign

PAGE_SIZE = 25


class LoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    redirect_authenticated_user = True
    next_page = "portal:home"


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The merchants this person works for; straight to the one if there is only one."""
    if not request.user.is_authenticated:
        return redirect("portal:login")
    memberships = list(staff_memberships(user=request.user))
    if len(memberships) == 1:
        return redirect("portal:dashboard", slug=memberships[0].merchant.slug)
    return render(request, "portal/home.html", {"memberships": memberships})


def _attempt(request: HttpRequest, action: Callable[[], Any], success: str) -> Any:
    try:
        result = action()
    except DomainError as error:
        messages.error(request, error.message)
        return None
    messages.success(request, success)
    return result


def _page(request: HttpRequest, items: Any) -> Any:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


@require_GET
@staff_required
def dashboard(request: StaffRequest) -> HttpResponse:
    perks = perks_of_merchant(merchant=request.merchant).select_related("min_tier")
    rows = [(perk, sorted(PERK_TRANSITIONS[perk.status])) for perk in perks]
    can_manage = Permission.PERKS_MANAGE in request.permissions
    return render(request, "portal/dashboard.html", {"rows": rows, "can_manage": can_manage})


@require_POST
@staff_required
def perk_status(request: StaffRequest, ref: str) -> HttpResponse:
    to = request.POST.get("to", "")
    _attempt(
        request,
        lambda: perk_transition(
            perk=perk_by_ref(merchant=request.merchant, ref=ref), actor=request.user, to=to
        ),
        f"The perk is now {to}.",
    )
    return redirect("portal:dashboard", slug=request.merchant.slug)


@never_cache
@staff_required
def keys(request: StaffRequest) -> HttpResponse:
    """Keys are listed by prefix; a new key's secret is shown on this response only."""
    form = ApiKeyForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        created = _attempt(
            request,
            lambda: api_key_create(
                merchant=request.merchant,
                actor=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
            ),
            "Key created. Copy it now: it will not be shown again.",
        )
        if created is not None:
            form = ApiKeyForm()
    return render(
        request,
        "portal/keys.html",
        {"keys": api_keys_of_merchant(merchant=request.merchant), "form": form, "created": created},
    )


@require_POST
@staff_required
def key_revoke(request: StaffRequest, prefix: str) -> HttpResponse:
    key = get_object_or_404(ApiKey, merchant=request.merchant, prefix=prefix)
    _attempt(request, lambda: api_key_revoke(key=key, actor=request.user), "Key revoked.")
    return redirect("portal:keys", slug=request.merchant.slug)


@never_cache
@staff_required
def webhooks(request: StaffRequest) -> HttpResponse:
    form = WebhookEndpointForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        created = _attempt(
            request,
            lambda: webhook_endpoint_create(
                merchant=request.merchant,
                actor=request.user,
                url=form.cleaned_data["url"],
                event_types=form.cleaned_data["event_types"],
            ),
            "Endpoint added. Copy its signing secret now: it will not be shown again.",
        )
        if created is not None:
            form = WebhookEndpointForm()
    deliveries = webhook_deliveries_of_merchant(merchant=request.merchant).order_by("-created_at", "-id")
    return render(
        request,
        "portal/webhooks.html",
        {
            "endpoints": webhook_endpoints_of_merchant(merchant=request.merchant),
            "deliveries": _page(request, deliveries),
            "form": form,
            "created": created,
        },
    )


@require_POST
@staff_required
def delivery_retry(request: StaffRequest, delivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(WebhookDelivery, endpoint__merchant=request.merchant, pk=delivery_id)
    _attempt(
        request,
        lambda: webhook_delivery_retry(delivery=delivery, actor=request.user),
        "The delivery will be tried again now.",
    )
    return redirect("portal:webhooks", slug=request.merchant.slug)


@require_GET
@staff_required
def audit(request: StaffRequest) -> HttpResponse:
    entries = audit_entries_of_merchant(merchant=request.merchant).select_related("actor_user", "actor_key")
    return render(request, "portal/audit.html", {"entries": _page(request, entries)})


@staff_required
def campaigns(request: StaffRequest) -> HttpResponse:
    """The merchant's campaigns, and a new one: a perk to a tier or a score and above."""
    form = CampaignForm(
        request.POST or None, perks=perks_live_of_merchant(merchant=request.merchant), tiers=tiers()
    )
    if request.method == "POST" and form.is_valid():
        try:
            campaign = campaign_create(
                merchant=request.merchant,
                actor=request.user,
                perk=perk_by_ref(merchant=request.merchant, ref=form.cleaned_data["perk"]),
                min_tier=form.cleaned_data["min_tier"] or None,
                min_score=form.cleaned_data["min_score"],
            )
        except PermissionDenied as error:
            messages.error(request, error.message)
        except DomainError as error:
            form.add_error(error.param if error.param in form.fields else None, error.message)
        else:
            messages.success(request, "The campaign has started.")
            return redirect("portal:campaign", slug=request.merchant.slug, ref=campaign.ref)
    listed = _page(request, campaigns_of_merchant(merchant=request.merchant))
    can_issue = Permission.VOUCHERS_ISSUE in request.permissions
    return render(
        request, "portal/campaigns.html", {"campaigns": listed, "form": form, "can_issue": can_issue}
    )


@require_GET
@staff_required
def campaign(request: StaffRequest, ref: str) -> HttpResponse:
    found = _campaign(request, ref)
    return render(
        request, "portal/campaign.html", {"campaign": found, "progress": campaign_progress(campaign=found)}
    )


@require_GET
@staff_required
def campaign_progress_fragment(request: StaffRequest, ref: str) -> HttpResponse:
    """The progress bar alone, polled by htmx every 2 s until the campaign ends."""
    found = _campaign(request, ref)
    return render(
        request,
        "portal/_campaign_progress.html",
        {"campaign": found, "progress": campaign_progress(campaign=found)},
    )


@require_GET
@staff_required
def campaign_codes(request: StaffRequest, ref: str) -> StreamingHttpResponse:
    found = _campaign(request, ref)
    response = StreamingHttpResponse(campaign_codes_csv(campaign=found), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{found.ref}-codes.csv"'
    return response


def _campaign_render(request: StaffRequest, ref: str, template: str) -> HttpResponse:
    found = _campaign(request, ref)
    return render(request, template, {"campaign": found, "progress": campaign_progress(campaign=found)})


def _campaign(request: StaffRequest, ref: str) -> Campaign:
    try:
        return campaign_by_ref(merchant=request.merchant, ref=ref)
    except NotFound:
        raise Http404 from None
