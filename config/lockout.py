"""The page a refused sign-in gets once django-axes has locked the address or the account.

Axes answers it (status 429) in place of the sign-in page, before any password is hashed.
It says what happened and when to try again without suggesting anyone did wrong, in the
look of the sign-in page that was used, with that surface's "Forgot your password?".
"""

from typing import Any

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

TEMPLATES = {"app": "app/locked_out.html", "portal": "portal/locked_out.html"}
CONSOLE_TEMPLATE = "admin/locked_out.html"
STATUS = 429


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    match = request.resolver_match
    template = TEMPLATES.get(match.namespace if match else "", CONSOLE_TEMPLATE)
    cool_off = get_cool_off(request)
    minutes = int(cool_off.total_seconds() // 60) if cool_off else 0
    response = render(request, template, {"minutes": minutes}, status=STATUS)
    response["Retry-After"] = str(minutes * 60)
    return response
