"""The second factor: a TOTP device (django-otp) and the sign-in that asks for its code.

Whoever has a confirmed device gives a code after the password, whichever sign-in page
they use: the app's and the portal's go through `TwoStepLoginView`, the console through
`config/admin.py`. Between the two steps the session holds who passed the password, for a
few minutes, and nobody is signed in. A device is enrolled unconfirmed, shown as a QR code,
and confirmed by the first code it gives, so a mistyped secret never locks anyone out.
"""

import time
from typing import Any

import segno
from django import forms
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, resolve_url
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView
from django_otp import login as otp_login
from django_otp.models import VerifyNotAllowed
from django_otp.plugins.otp_totp.models import TOTPDevice

from loyalty.core.redirects import safe_next

PENDING_KEY = "twofactor_pending"
# How long after the password the code may be given.
PENDING_SECONDS = 5 * 60


def confirmed_device(user: AbstractBaseUser) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def enrolment_device(user: AbstractBaseUser, *, name: str) -> TOTPDevice:
    """The device being enrolled: the same unconfirmed one each time the page is shown,
    so the QR code scanned a minute ago still matches."""
    device, _created = TOTPDevice.objects.get_or_create(user=user, confirmed=False, defaults={"name": name})
    return device


def qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as an inline SVG QR code, for an authenticator app."""
    return str(segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#1d2330"))


def manual_key(device: TOTPDevice) -> str:
    """The secret in the base32 an authenticator app accepts typed in, in groups of four."""
    secret = device.config_url.split("secret=", 1)[1].split("&", 1)[0]
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def token_check(device: TOTPDevice, token: str) -> None:
    """Raise a ValidationError unless `token` is the device's current code.

    django-otp throttles each device: after a wrong code the next is refused unread for a
    delay that doubles each time, which is what keeps six digits from being guessed."""
    allowed, extra = device.verify_is_allowed()
    if not allowed:
        if extra and extra.get("reason") == VerifyNotAllowed.N_FAILED_ATTEMPTS:
            raise forms.ValidationError(_("Too many wrong codes in a row. Wait a little, then try again."))
        raise forms.ValidationError(_("Codes cannot be checked right now. Try again in a moment."))
    if not device.verify_token(token.replace(" ", "")):
        raise forms.ValidationError(_("That code is not right. Use the newest code your app shows."))


def enrolment_confirm(request: HttpRequest, device: TOTPDevice) -> None:
    """The first good code confirms the device and verifies this session with it."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    otp_login(request, device)


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def __init__(self, *args: Any, device: TOTPDevice, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_token(self) -> str:
        token: str = self.cleaned_data["token"]
        token_check(self.device, token)
        return token


def _pending_set(request: HttpRequest, user: AbstractBaseUser) -> None:
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "backend": getattr(user, "backend", None),
        "at": time.time(),
    }


def _pending(request: HttpRequest) -> tuple[User, str] | None:
    """Who gave the right password a moment ago here, and through which backend."""
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        return None
    user = User.objects.filter(pk=pending["user"], is_active=True).first()
    return (user, pending["backend"]) if user else None


class TwoStepLoginView(auth_views.LoginView):
    """Django's sign-in, which stops after the password for a user with a device and sends
    them to `code_step_url` instead of signing them in."""

    redirect_authenticated_user = True
    code_step_url: str = ""

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        if confirmed_device(user) is None:
            return super().form_valid(form)
        _pending_set(self.request, user)
        url = resolve_url(self.code_step_url)
        if next_url := self.get_redirect_url():
            url += "?" + urlencode({"next": next_url})
        return HttpResponseRedirect(url)


class TokenView(FormView):
    """The second step: the code, then the user is signed in, their device verified."""

    form_class = TokenForm
    login_url: str = ""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        pending = _pending(request)
        self.device = confirmed_device(pending[0]) if pending else None
        if pending is None or self.device is None:
            return redirect(self.login_url)
        self.user, self.backend = pending
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "device": self.device}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(next=safe_next(self.request, ""), **kwargs)

    def form_valid(self, form: TokenForm) -> HttpResponse:
        del self.request.session[PENDING_KEY]
        login(self.request, self.user, backend=self.backend)
        otp_login(self.request, self.device)
        return HttpResponseRedirect(safe_next(self.request, str(self.get_success_url())))
