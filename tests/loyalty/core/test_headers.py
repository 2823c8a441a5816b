"""The header helpers: Permissions-Policy written as browsers read it, and a page's CSP
additions asked for when it is answered, so a changed setting changes them."""

from typing import cast

from csp.middleware import CSPMiddleware
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import RequestFactory

from loyalty.core.headers import (
    DocumentCSPMiddleware,
    PermissionsPolicyMiddleware,
    csp_allow,
    permissions_policy,
)

ORIGINS = {"img-src": ["https://first.example"]}


def test_features_are_written_with_their_allowed_origins():
    assert permissions_policy({"camera": [], "payment": ["self", '"https://pay.example"']}) == (
        'camera=(), payment=(self "https://pay.example")'
    )


def test_the_middleware_keeps_a_policy_a_view_set_itself(settings):
    settings.PERMISSIONS_POLICY = {"camera": []}

    def own_policy(request: HttpRequest) -> HttpResponse:
        response = HttpResponse()
        response["Permissions-Policy"] = "camera=(self)"
        return response

    assert (
        PermissionsPolicyMiddleware(own_policy)(RequestFactory().get("/"))["Permissions-Policy"]
        == "camera=(self)"
    )
    assert (
        PermissionsPolicyMiddleware(lambda request: HttpResponse())(RequestFactory().get("/"))[
            "Permissions-Policy"
        ]
        == "camera=()"
    )


def test_a_pages_additions_are_read_when_it_is_answered():
    @csp_allow(lambda: ORIGINS)
    def page(request: HttpRequest) -> HttpResponse:
        return HttpResponse("<p>hello</p>")

    served = CSPMiddleware(page)
    before = cast(HttpResponse, served(RequestFactory().get("/")))["Content-Security-Policy"]
    ORIGINS["img-src"] = ["https://second.example"]
    after = cast(HttpResponse, served(RequestFactory().get("/")))["Content-Security-Policy"]

    assert "img-src 'self' https://first.example" in before
    assert "img-src 'self' https://second.example" in after
    assert "first.example" not in after


def test_a_policy_on_every_answer_but_json():
    """JSON is never rendered as a document, and the partner API answers only JSON: it is
    spared building a policy; an SVG (which can carry script) is not."""
    csp = "Content-Security-Policy"

    def answered(response: HttpResponse) -> HttpResponse:
        return cast(HttpResponse, DocumentCSPMiddleware(lambda request: response)(RequestFactory().get("/")))

    assert csp not in answered(JsonResponse({"code": "ABCD"}))
    assert "default-src 'self'" in answered(HttpResponse("<p>hi</p>"))[csp]
    assert csp in answered(HttpResponse("<svg/>", content_type="image/svg+xml"))
