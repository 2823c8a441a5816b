"""Locations in the portal: where vouchers are honoured, each with the code tills send and
receipts show. Managers and owners add them, rename them, change their codes and close
them; a closed location stays in the history of its redemptions. The rules (a code's
shape, one code per location of a merchant) are the services', and a refusal lands on the
field it names."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from loyalty.core.errors import DomainError, NotFound
from perks.merchants.models import Location
from perks.merchants.permissions import Permission
from perks.merchants.selectors import location_by_ref, locations_of_merchant
from perks.merchants.services import location_create, location_set_active, location_update
from surfaces.portal.access import StaffRequest, portal_page
from surfaces.portal.pages import attempt, page_of
from surfaces.portal.people_forms import LocationEditForm, LocationForm


@never_cache
@portal_page(permission=Permission.LOCATIONS_MANAGE)
def locations(request: StaffRequest) -> HttpResponse:
    """The merchant's locations, open ones first, and a new one."""
    form = LocationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        created = _saved(form, lambda: location_create(merchant=request.merchant, actor=request.user, **data))
        if created is not None:
            messages.success(request, _("Location %(code)s is added.") % {"code": created.code})
            return redirect("portal:locations", slug=request.merchant.slug)
    listed = page_of(
        request,
        locations_of_merchant(merchant=request.merchant, active_only=False).order_by("-is_active", "code"),
    )
    return render(request, "portal/locations.html", {"locations": listed, "form": form})


@never_cache
@portal_page(permission=Permission.LOCATIONS_MANAGE)
def location(request: StaffRequest, ref: str) -> HttpResponse:
    """One location's name, code, address and whether it is open."""
    found = _location(request, ref)
    initial = {"name": found.name, "code": found.code, "address": found.address, "is_active": found.is_active}
    form = LocationEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        active = data.pop("is_active")
        if _saved(form, lambda: _edit(request, found, data, active)) is not None:
            messages.success(request, _("Location %(code)s is saved.") % {"code": found.code})
            return redirect("portal:locations", slug=request.merchant.slug)
    return render(request, "portal/location.html", {"location": found, "form": form})


@require_POST
@portal_page(permission=Permission.LOCATIONS_MANAGE)
def location_active(request: StaffRequest, ref: str) -> HttpResponse:
    """Close a location (its tills can no longer redeem there) or open it again."""
    found = _location(request, ref)
    opening = request.POST.get("active") == "1"
    attempt(
        request,
        lambda: location_set_active(location=found, actor=request.user, active=opening),
        (_("Location %(code)s is open again.") if opening else _("Location %(code)s is closed."))
        % {"code": found.code},
    )
    return redirect("portal:locations", slug=request.merchant.slug)


def _edit(request: StaffRequest, found: Location, data: dict[str, Any], active: bool) -> Location:
    location_update(location=found, actor=request.user, **data)
    if active != found.is_active:
        location_set_active(location=found, actor=request.user, active=active)
    return found


def _saved(form: LocationForm, save: Callable[[], Location]) -> Location | None:
    """What `save` returns, or None with its refusal shown on the field it names."""
    try:
        return save()
    except DomainError as refused:
        form.add_error(refused.param if refused.param in form.fields else None, refused.message)
        return None


def _location(request: StaffRequest, ref: str) -> Location:
    try:
        return location_by_ref(merchant=request.merchant, ref=ref)
    except NotFound:
        raise Http404 from None
