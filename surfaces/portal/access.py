"""Who may use the portal: a merchant's staff, inside that merchant only.

A merchant the signed-in person does not work for is a 404, as in the API: the portal
never confirms that another merchant exists. What each role may do is decided by the
services (`staff_require`); the pages only hide what the role could not do anyway.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponseBase

from perks.billing.selectors import billing_paused
from perks.merchants.models import Merchant, Staff
from perks.merchants.permissions import ROLE_PERMISSIONS

View = Callable[..., HttpResponseBase]


class StaffRequest(HttpRequest):
    user: User
    merchant: Merchant
    staff: Staff
    permissions: frozenset[str]
    billing_paused: bool


def staff_required(view: View) -> View:
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
