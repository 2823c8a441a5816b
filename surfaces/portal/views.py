"""The merchant portal's front door: signing in and choosing a merchant (its
dashboard is surfaces/portal/dashboard.py).

Views parse, call one service or selector, and render; every rule (who may do what, which
status may follow which) is the services'. A refusal becomes a message on the page; a page
the role may not open at all says so with a 403 before it runs (`access.portal_page`).
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from loyalty.core.twofactor import TwoStepLoginView
from perks.merchants.selectors import staff_memberships


class LoginView(TwoStepLoginView):
    """E-mail and password; then the code for an owner who turned two-factor on.
    Refused unhashed once locked out (config/lockout.py)."""

    template_name = "portal/login.html"
    next_page = "portal:home"
    code_step_url = "portal:login-token"


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The merchants this person works for; straight to the one if there is only one."""
    if not request.user.is_authenticated:
        return redirect("portal:login")
    memberships = list(staff_memberships(user=request.user))
    if len(memberships) == 1:
        return redirect("portal:dashboard", slug=memberships[0].merchant.slug)
    return render(request, "portal/home.html", {"memberships": memberships})
