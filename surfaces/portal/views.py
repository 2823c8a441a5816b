"""The merchant portal: perks, keys, webhooks and the audit trail of one merchant.

Views parse, call one service or selector, and render; every rule (who may do what, which
status may follow which) is the services'. A refusal becomes a message on the page; a page
the role may not open at all says so with a 403 before it runs (`access.portal_page`).
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from loyalty.core.replica import lag_tolerant
from loyalty.core.twofactor import TwoStepLoginView
from perks.catalog.rules import PERK_TRANSITIONS
from perks.catalog.selectors import perk_by_ref, perks_of_merchant
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
from surfaces.portal.access import StaffRequest, may_use, portal_page
from surfaces.portal.forms import ApiKeyForm, WebhookEndpointForm
from surfaces.portal.pages import attempt, form_create, page_of


class LoginView(TwoStepLoginView):
    """E-mail and password; then the code for an owner who turned two-factor on.
    Refused unhashed once locked out (config/lockout.py)."""

    template_name = "portal/login.html"
    next_page = "portal:home"
    code_step_url = "portal:login-token"


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The merchants this person works for; straight to the one if there is only one."""
    if not request.user.is_authenticated:
        return redirect("portal:login")
    memberships = list(staff_memberships(user=request.user))
    if len(memberships) == 1:
        return redirect("portal:dashboard", slug=memberships[0].merchant.slug)
    return render(request, "portal/home.html", {"memberships": memberships})


@require_GET
@portal_page(permission=None)
@lag_tolerant
def dashboard(request: StaffRequest) -> HttpResponse:
    perks = perks_of_merchant(merchant=request.merchant).select_related("min_tier")
    rows = [(perk, sorted(PERK_TRANSITIONS[perk.status])) for perk in perks]
    can_manage = may_use(request, "portal:perk-status")
    return render(request, "portal/dashboard.html", {"rows": rows, "can_manage": can_manage})


@require_POST
@portal_page(permission=Permission.PERKS_MANAGE)
def perk_status(request: StaffRequest, ref: str) -> HttpResponse:
    to = request.POST.get("to", "")
    attempt(
        request,
        lambda: perk_transition(
            perk=perk_by_ref(merchant=request.merchant, ref=ref), actor=request.user, to=to
        ),
        f"The perk is now {to}.",
    )
    return redirect("portal:dashboard", slug=request.merchant.slug)


@never_cache
@portal_page(permission=Permission.KEYS_MANAGE)
def keys(request: StaffRequest) -> HttpResponse:
    """Keys are listed by prefix; a new key's secret is shown on this response only."""
    form, created = form_create(
        request,
        ApiKeyForm,
        lambda data: api_key_create(
            merchant=request.merchant, actor=request.user, name=data["name"], scopes=data["scopes"]
        ),
        "Key created. Copy it now: it will not be shown again.",
    )
    return render(
        request,
        "portal/keys.html",
        {"keys": api_keys_of_merchant(merchant=request.merchant), "form": form, "created": created},
    )


@require_POST
@portal_page(permission=Permission.KEYS_MANAGE)
def key_revoke(request: StaffRequest, prefix: str) -> HttpResponse:
    key = get_object_or_404(ApiKey, merchant=request.merchant, prefix=prefix)
    attempt(request, lambda: api_key_revoke(key=key, actor=request.user), "Key revoked.")
    return redirect("portal:keys", slug=request.merchant.slug)


@never_cache
@portal_page(permission=Permission.WEBHOOKS_MANAGE)
@lag_tolerant
def webhooks(request: StaffRequest) -> HttpResponse:
    form, created = form_create(
        request,
        WebhookEndpointForm,
        lambda data: webhook_endpoint_create(
            merchant=request.merchant, actor=request.user, url=data["url"], event_types=data["event_types"]
        ),
        "Endpoint added. Copy its signing secret now: it will not be shown again.",
    )
    deliveries = webhook_deliveries_of_merchant(merchant=request.merchant).order_by("-created_at", "-id")
    return render(
        request,
        "portal/webhooks.html",
        {
            "endpoints": webhook_endpoints_of_merchant(merchant=request.merchant),
            "deliveries": page_of(request, deliveries),
            "form": form,
            "created": created,
        },
    )


@require_POST
@portal_page(permission=Permission.WEBHOOKS_MANAGE)
def delivery_retry(request: StaffRequest, delivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(WebhookDelivery, endpoint__merchant=request.merchant, pk=delivery_id)
    attempt(
        request,
        lambda: webhook_delivery_retry(delivery=delivery, actor=request.user),
        "The delivery will be tried again now.",
    )
    return redirect("portal:webhooks", slug=request.merchant.slug)


@never_cache
@require_GET
@portal_page(permission=Permission.AUDIT_VIEW)
@lag_tolerant
def audit(request: StaffRequest) -> HttpResponse:
    """Who did what. Its targets include vouchers' live codes: no browser or proxy keeps a copy."""
    entries = audit_entries_of_merchant(merchant=request.merchant).select_related("actor_user", "actor_key")
    return render(request, "portal/audit.html", {"entries": page_of(request, entries)})
