"""Campaigns in the portal: start one (a perk to a tier or a score and above), watch it
issue live, and download its codes. The rules are `campaign_create`'s; its refusals land
on the form's fields. Every role follows campaigns; the codes are live vouchers that a till
redeems, so only a role that may issue vouchers downloads them, and no browser or proxy
keeps a copy."""

from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from loyalty.core.errors import DomainError, NotFound, PermissionDenied
from loyalty.core.replica import lag_tolerant
from loyalty.scoring.selectors import tiers
from perks.catalog.selectors import perk_by_ref, perks_live_of_merchant
from perks.merchants.permissions import Permission
from perks.vouchers.campaigns.selectors import (
    campaign_by_ref,
    campaign_codes_csv,
    campaign_progress,
    campaigns_of_merchant,
)
from perks.vouchers.campaigns.services import campaign_create
from perks.vouchers.models import Campaign
from surfaces.portal.access import StaffRequest, portal_page
from surfaces.portal.forms import CampaignForm
from surfaces.portal.pages import page_of


@portal_page(permission=None)
@lag_tolerant
def campaigns(request: StaffRequest) -> HttpResponse:
    """The merchant's campaigns, and a new one."""
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
    listed = page_of(request, campaigns_of_merchant(merchant=request.merchant))
    can_issue = Permission.VOUCHERS_ISSUE in request.permissions
    return render(
        request, "portal/campaigns.html", {"campaigns": listed, "form": form, "can_issue": can_issue}
    )


@require_GET
@portal_page(permission=None)
@lag_tolerant
def campaign(request: StaffRequest, ref: str) -> HttpResponse:
    return _campaign_render(request, ref, "portal/campaign.html")


@require_GET
@portal_page(permission=None)
@lag_tolerant
def campaign_progress_fragment(request: StaffRequest, ref: str) -> HttpResponse:
    """The progress bar alone, polled by htmx every 2 s until the campaign ends."""
    return _campaign_render(request, ref, "portal/_campaign_progress.html")


@never_cache
@require_GET
@portal_page(permission=Permission.VOUCHERS_ISSUE)
@lag_tolerant
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
