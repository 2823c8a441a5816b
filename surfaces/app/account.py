"""The member's account: who is signed in, the password, the code step of sign-in, and
the confirmation of the password before a sensitive action (loyalty/core/reauth.py)."""

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET, require_POST

from loyalty.core.reauth import recent_password_required
from loyalty.core.redirects import safe_next
from loyalty.core.twofactor import TokenView
from surfaces.app.access import MemberRequest, member_required

# The page asking for the password again, posted back to the action it holds up.
CONFIRM_TEMPLATE = "app/password_confirm.html"
password_required = recent_password_required(CONFIRM_TEMPLATE)


class LoginTokenView(TokenView):
    template_name = "app/login_token.html"
    login_url = "app:login"
    success_url = reverse_lazy("app:home")


@require_GET
@member_required
def account(request: MemberRequest) -> HttpResponse:
    return render(request, "app/account.html")


@require_POST
@member_required
@password_required
def password_confirm(request: MemberRequest) -> HttpResponse:
    """The password given ahead of an action (adding a card), then back where it was asked."""
    return redirect(safe_next(request, str(reverse_lazy("app:home"))))
