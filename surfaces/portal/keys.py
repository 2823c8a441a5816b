"""API keys in the portal: listed by prefix, made (the secret shown on that answer only) and revoked."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from perks.merchants.models import ApiKey
from perks.merchants.permissions import Permission
from perks.merchants.selectors import api_keys_of_merchant
from perks.merchants.services import api_key_create, api_key_revoke
from surfaces.portal.access import StaffRequest, portal_page
from surfaces.portal.forms import ApiKeyForm
from surfaces.portal.pages import attempt, form_create


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
        _("Key created. Copy it now: it will not be shown again."),
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
    attempt(request, lambda: api_key_revoke(key=key, actor=request.user), _("Key revoked."))
    return redirect("portal:keys", slug=request.merchant.slug)
