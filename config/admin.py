"""The operator console's site: Django's admin, behind a TOTP code (django-otp).

Only an operator whose session was verified by a device passes `has_permission`. The
sign-in asks for the code with the password. An operator without a device yet is signed
in by the password alone and sent to enrol one: the page shows a QR code and takes the
first code, if `ADMIN_TOTP_SELF_ENROL` allows it (the demo), or otherwise says to ask for
`manage.py totp_enrol <username>`, run by whoever may run commands on the servers.
"""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminSite

from loyalty.core.twofactor import (
    TokenForm,
    confirmed_device,
    enrolment_confirm,
    enrolment_device,
    manual_key,
    qr_svg,
    token_check,
)

DEVICE_NAME = "Console"


class ConsoleLoginForm(AdminAuthenticationForm):
    """Password, then the code of the operator's device when they have one."""

    otp_token = forms.CharField(
        label=_("Code from your authenticator app"),
        required=False,
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user = self.get_user()
        device = confirmed_device(user) if user else None
        if device is not None:
            token_check(device, cleaned.get("otp_token") or "")
            # django-otp keeps the device in the session when login() sees it here.
            user.otp_device = device  # type: ignore[attr-defined]
        return cleaned


class ConsoleSite(OTPAdminSite):
    login_form = ConsoleLoginForm
    login_template = "admin/login_totp.html"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if _needs_enrolment(request):
            return redirect("admin:totp-enrol")
        return super().login(request, extra_context)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        return [path("totp/enrol/", self.totp_enrol, name="totp-enrol"), *super().get_urls()]

    def totp_enrol(self, request: HttpRequest) -> HttpResponse:
        """The operator's first device: QR code, then the first code confirms it."""
        if not _needs_enrolment(request):
            return redirect("admin:index")
        context: dict[str, Any] = {**self.each_context(request), "self_enrol": settings.ADMIN_TOTP_SELF_ENROL}
        if settings.ADMIN_TOTP_SELF_ENROL:
            device = enrolment_device(request.user, name=DEVICE_NAME)  # type: ignore[arg-type]
            form = TokenForm(request.POST or None, device=device)
            if request.method == "POST" and form.is_valid():
                enrolment_confirm(request, device)
                return redirect("admin:index")
            context.update(form=form, qr_svg=qr_svg(device), manual_key=manual_key(device))
        return TemplateResponse(request, "admin/totp_enrol.html", context)


def _needs_enrolment(request: HttpRequest) -> bool:
    """An operator signed in by password who has no device to verify the session with."""
    user = request.user
    return bool(user.is_active and user.is_staff and confirmed_device(user) is None)
