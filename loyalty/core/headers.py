"""Security headers beyond Django's own: Permissions-Policy on every response, and the
Content-Security-Policy additions a page needs for a third party it loads.

The Content-Security-Policy itself is django-csp's (`CONTENT_SECURITY_POLICY` in
settings), set on every answer but JSON; this module only adds what it lacks.
"""

from collections.abc import Callable, Mapping, Sequence
from functools import wraps
from typing import Any

from csp.decorators import csp_update
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

HEADER = "Permissions-Policy"

View = Callable[..., HttpResponseBase]


def permissions_policy(features: Mapping[str, Sequence[str]]) -> str:
    """The header's value: each feature with the origins allowed it, `()` for none
    (`{"camera": [], "payment": ["self"]}` is `camera=(), payment=(self)`)."""
    return ", ".join(f"{feature}=({' '.join(origins)})" for feature, origins in features.items())


class PermissionsPolicyMiddleware:
    """Sets `PERMISSIONS_POLICY` on every response, as a string made once per process:
    the partner API's requests pay one header assignment, nothing more."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.value = permissions_policy(settings.PERMISSIONS_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault(HEADER, self.value)
        return response


class DocumentCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, minus JSON answers. A policy governs what a document loads
    and runs; JSON (every answer of the partner API) is never rendered as one, with
    `nosniff` on. Building the policy was a sixth of the Python calls of a partner API
    request (351 of 2,002 for GET /api/v1/merchant), so JSON skips it."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        return super().process_response(request, response)


def csp_allow(sources: Callable[[], Mapping[str, Sequence[str]]]) -> Callable[[View], View]:
    """django-csp's `csp_update`, with the sources asked for when the page is answered
    rather than when the module is imported: they come from settings (such as where
    Stripe is) that a deploy sets and a test changes. Only the pages decorated get them."""

    def decorator(view: View) -> View:
        @wraps(view)
        def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            return csp_update(dict(sources()))(view)(request, *args, **kwargs)

        return answer

    return decorator
