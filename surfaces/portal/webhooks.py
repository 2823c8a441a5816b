"""Webhooks in the portal: endpoints added, edited, turned off and on, and sent a test event;
deliveries listed, read one by one (the request sent, each attempt's answer) and retried.

Every rule (which URLs, which events, which delivery may be retried) is the services' in
perks.merchants.services.webhooks; a refusal becomes a message, or lands on the form's field.
"""

from collections.abc import Callable
from typing import TypeVar

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from loyalty.core.errors import DomainError, NotFound
from loyalty.core.replica import lag_tolerant
from perks.merchants.permissions import Permission
from perks.merchants.selectors import (
    webhook_deliveries_of_merchant,
    webhook_delivery_by_ref,
    webhook_endpoint_by_ref,
    webhook_endpoints_of_merchant,
)
from perks.merchants.services import (
    webhook_delivery_retry,
    webhook_endpoint_create,
    webhook_endpoint_test,
    webhook_endpoint_update,
)
from perks.merchants.services.webhooks.delivery import SIGNATURE_HEADER, webhook_body, webhook_request_headers
from surfaces.portal.access import StaffRequest, portal_page
from surfaces.portal.forms import WebhookEndpointForm
from surfaces.portal.pages import attempt, form_create, page_of

T = TypeVar("T")


def _found(selector: Callable[..., T], request: StaffRequest, ref: str) -> T:
    """The merchant's object of `ref`; a 404, as for any page, when it has none."""
    try:
        return selector(merchant=request.merchant, ref=ref)
    except NotFound:
        raise Http404 from None


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
        _("Endpoint added. Copy its signing secret now: it will not be shown again."),
    )
    deliveries = page_of(
        request, webhook_deliveries_of_merchant(merchant=request.merchant).order_by("-created_at", "-id")
    )
    return render(
        request,
        "portal/webhooks.html",
        {
            "endpoints": webhook_endpoints_of_merchant(merchant=request.merchant),
            "deliveries": deliveries,
            # Each with its latest attempt (prefetched), whose answer the list shows.
            "rows": [(delivery, [*delivery.attempts.all()][-1:]) for delivery in deliveries],
            "form": form,
            "created": created,
        },
    )


@never_cache
@portal_page(permission=Permission.WEBHOOKS_MANAGE)
def webhook_endpoint(request: StaffRequest, ref: str) -> HttpResponse:
    """Change an endpoint's URL and events; its secret stays as it is."""
    endpoint = _found(webhook_endpoint_by_ref, request, ref)
    initial = {"url": endpoint.url, "event_types": endpoint.event_types}
    form = WebhookEndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            webhook_endpoint_update(
                endpoint=endpoint,
                actor=request.user,
                url=form.cleaned_data["url"],
                event_types=form.cleaned_data["event_types"],
            )
        except DomainError as error:
            form.add_error("event_types" if error.param == "events" else "url", error.message)
        else:
            messages.success(request, _("Endpoint saved."))
            return redirect("portal:webhooks", slug=request.merchant.slug)
    return render(request, "portal/webhook_endpoint.html", {"endpoint": endpoint, "form": form})


@require_POST
@portal_page(permission=Permission.WEBHOOKS_MANAGE)
def webhook_endpoint_active(request: StaffRequest, ref: str) -> HttpResponse:
    """Turn an endpoint off (nothing more is sent to it; its history stays) or on again."""
    endpoint = _found(webhook_endpoint_by_ref, request, ref)
    active = request.POST.get("active") == "on"
    attempt(
        request,
        lambda: webhook_endpoint_update(endpoint=endpoint, actor=request.user, is_active=active),
        _("The endpoint is on: new events go to it.")
        if active
        else _("The endpoint is off: nothing is sent to it."),
    )
    return redirect("portal:webhooks", slug=request.merchant.slug)


@require_POST
@portal_page(permission=Permission.WEBHOOKS_MANAGE)
def webhook_endpoint_test_send(request: StaffRequest, ref: str) -> HttpResponse:
    """Send a `webhook.test` event now and show its delivery, where its answer will appear."""
    endpoint = _found(webhook_endpoint_by_ref, request, ref)
    delivery = attempt(
        request,
        lambda: webhook_endpoint_test(endpoint=endpoint, actor=request.user),
        _("Test event sent. Its answer appears below once the endpoint replies."),
    )
    if delivery is None:
        return redirect("portal:webhooks", slug=request.merchant.slug)
    return redirect("portal:delivery", slug=request.merchant.slug, ref=delivery.ref)


@never_cache
@require_GET
@portal_page(permission=Permission.WEBHOOKS_MANAGE)
@lag_tolerant
def delivery(request: StaffRequest, ref: str) -> HttpResponse:
    """One delivery: the request as sent (its signature described, never the secret), and
    each attempt's answer."""
    found = _found(webhook_delivery_by_ref, request, ref)
    headers = webhook_request_headers(
        signature=_("t=<the attempt's time>,v1=<HMAC-SHA256 signed with your secret>")
    )
    return render(
        request,
        "portal/delivery.html",
        {
            "delivery": found,
            "attempts": found.attempts.all(),
            "headers": sorted(headers.items()),
            "signature_header": SIGNATURE_HEADER,
            "body": webhook_body(found.event).decode(),
        },
    )


@require_POST
@portal_page(permission=Permission.WEBHOOKS_MANAGE)
def delivery_retry(request: StaffRequest, ref: str) -> HttpResponse:
    found = _found(webhook_delivery_by_ref, request, ref)
    attempt(
        request,
        lambda: webhook_delivery_retry(delivery=found, actor=request.user),
        _("The delivery will be tried again now."),
    )
    return redirect("portal:delivery", slug=request.merchant.slug, ref=found.ref)
