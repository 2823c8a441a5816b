"""Who may use the portal: a merchant's staff, inside that merchant only, and on each of its
pages only the roles that the page's permission allows.

A merchant the signed-in person does not work for is a 404, as in the API: the portal
never confirms that another merchant exists. Every page of a merchant declares the
permission it needs with `portal_page`, and that declaration is data (`PAGE_PERMISSIONS`):
the guard reads it, the navigation and the buttons read it (`may_use`), and the tests
derive each role's answer on each page from it and the permissions table. Whether a role
grants a permission is `staff_require`'s to say, as it is for every service.
"""

import inspect
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import URLPattern, get_resolver
from django.utils.translation import gettext as _

from loyalty.core.errors import PermissionDenied
from perks.billing.selectors import billing_paused
from perks.merchants.errors import MerchantSuspended
from perks.merchants.models import Merchant, Staff
from perks.merchants.permissions import ROLE_PERMISSIONS
from perks.merchants.services import staff_require

View = Callable[..., HttpResponseBase]

# Each merchant page and the permission it needs (None: any of its staff).
PAGE_PERMISSIONS: dict[View, str | None] = {}


class StaffRequest(HttpRequest):
    user: User
    merchant: Merchant
    staff: Staff
    permissions: frozenset[str]
    billing_paused: bool


def staff_required(view: View) -> View:
    """The merchant of the URL's `slug` and the person's place at it, on the request; a 404
    for a merchant they do not work for. Pages use `portal_page`, which adds their permission."""

    @wraps(view)
    def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url="portal:login")
        staff = (
            Staff.objects.select_related("merchant").filter(user=request.user, merchant__slug=slug).first()
        )
        if staff is None:
            raise Http404
        request.merchant = staff.merchant  # type: ignore[attr-defined]
        request.staff = staff  # type: ignore[attr-defined]
        request.permissions = ROLE_PERMISSIONS.get(staff.role, frozenset())  # type: ignore[attr-defined]
        # Every page says so while new vouchers are paused for an unpaid invoice.
        request.billing_paused = billing_paused(staff.merchant)  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def portal_page(*, permission: str | None) -> Callable[[View], View]:
    """A page of one merchant for its staff whose role grants `permission` (None: every role).

    The rest of its staff get the portal's 403 page before the view runs, so a role that may
    not use a page does not read it either: a cashier never sees a campaign's live codes.
    """

    def declare(view: View) -> View:
        @wraps(view)
        def guarded(request: StaffRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            refusal = None if permission is None else _refusal(request, permission)
            return view(request, *args, **kwargs) if refusal is None else refusal

        page = staff_required(guarded)
        PAGE_PERMISSIONS[page] = permission
        return page

    return declare


def may_use(request: StaffRequest, url_name: str) -> bool:
    """Whether the person's role opens the merchant page named `url_name` ("portal:keys"):
    what the navigation shows, and the buttons that post to a page of their own."""
    permission = permission_of(view_named(url_name))
    return permission is None or permission in request.permissions


def permission_of(view: View) -> str | None:
    """The permission `view` declared with `portal_page`, under whatever wraps it since."""
    page = inspect.unwrap(view, stop=lambda wrapper: wrapper in PAGE_PERMISSIONS)
    if page not in PAGE_PERMISSIONS:
        raise LookupError(f"{view.__qualname__} declares no permission: make it a portal_page.")
    return PAGE_PERMISSIONS[page]


def view_named(url_name: str) -> View:
    """The view routed under `url_name`, a "namespace:name" of the project's URLs."""
    namespace, name = url_name.split(":")
    _prefix, resolver = get_resolver().namespace_dict[namespace]
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLPattern) and pattern.name == name:
            return pattern.callback
    raise LookupError(f"No page is named {url_name}.")


def _refusal(request: StaffRequest, permission: str) -> HttpResponse | None:
    """The 403 page saying why, in the portal's look, or None when the person may."""
    try:
        staff_require(user=request.user, merchant=request.merchant, permission=permission)
    except MerchantSuspended:
        why = _(
            "This merchant is suspended: this page is closed until Perkline restores it. Billing stays open."
        )
    except PermissionDenied:
        why = _("Your role here, %(role)s, does not open this page. Ask an owner if you need it.") % {
            "role": request.staff.get_role_display()
        }
    else:
        return None
    return render(request, "portal/forbidden.html", {"why": why}, status=403)
