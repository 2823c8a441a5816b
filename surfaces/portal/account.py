"""The signed-in person's own account in the portal: the password, and two-factor sign-in.

Two-factor is offered to owners (they can change everything about a merchant, keys and
webhooks included); once a device is confirmed, the portal's sign-in asks for its code
after the password (loyalty/core/twofactor.py). A lost device is removed by an operator
in the console, and the owner enrols a new one here.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _

from loyalty.core.twofactor import (
    TokenForm,
    TokenView,
    confirmed_device,
    enrolment_confirm,
    enrolment_device,
    manual_key,
    qr_svg,
)
from perks.merchants.models import Staff
from perks.merchants.permissions import Role

DEVICE_NAME = "Merchant portal"

signed_in_required = login_required(login_url="portal:login")


class LoginTokenView(TokenView):
    template_name = "portal/login_token.html"
    login_url = "portal:login"
    success_url = reverse_lazy("portal:home")


def _is_owner(user: User) -> bool:
    return Staff.objects.filter(user=user, role=Role.OWNER).exists()


@signed_in_required
def account(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    return render(
        request, "portal/account.html", {"device": confirmed_device(user), "may_enrol": _is_owner(user)}
    )


@signed_in_required
def totp_enrol(request: HttpRequest) -> HttpResponse:
    """Shows the QR code of a new device; the first good code turns two-factor on."""
    user: User = request.user  # type: ignore[assignment]
    if not _is_owner(user) or confirmed_device(user) is not None:
        return redirect("portal:account")
    device = enrolment_device(user, name=DEVICE_NAME)
    form = TokenForm(request.POST or None, device=device)
    if request.method == "POST" and form.is_valid():
        enrolment_confirm(request, device)
        messages.success(
            request, _("Two-factor sign-in is on. Signing in will ask for a code from your app.")
        )
        return redirect("portal:account")
    return render(
        request,
        "portal/totp_enrol.html",
        {"form": form, "qr_svg": qr_svg(device), "manual_key": manual_key(device)},
        status=400 if form.errors else 200,
    )
