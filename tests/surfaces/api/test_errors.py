"""Every error under /api/ is the partner API's envelope (docs/integration.md); elsewhere, an HTML page."""

import pytest
from django.test import Client
from django.urls import path
from rest_framework.views import APIView

from loyalty.core import errors as domain

pytestmark = pytest.mark.django_db


class Exploding(APIView):
    def get(self, request):
        raise ZeroDivisionError("boom")


class Refusing(APIView):
    def get(self, request):
        raise domain.Refused("Not today.", param="day")


urlpatterns = [
    path("api/v1/explode", Exploding.as_view()),
    path("api/v1/refuse", Refusing.as_view()),
]


def assert_envelope(response, status, type_, code):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert (error["type"], error["code"]) == (type_, code)
    assert error["message"]
    assert "param" in error
    return error


def test_unknown_api_path_is_a_json_404(client):
    assert_envelope(client.get("/api/v1/no-such-thing"), 404, "not_found", "not_found")


def test_unexpected_exception_in_an_api_view_is_a_json_500(settings):
    settings.ROOT_URLCONF = __name__
    response = Client(raise_request_exception=False).get("/api/v1/explode")
    assert_envelope(response, 500, "api_error", "internal_error")


def test_domain_error_keeps_its_code_and_param(settings, client):
    settings.ROOT_URLCONF = __name__
    error = assert_envelope(client.get("/api/v1/refuse"), 422, "invalid_request", "refused")
    assert error["param"] == "day"
    assert error["message"] == "Not today."


def test_pages_outside_the_api_are_friendly_html(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"No such page" in response.content
