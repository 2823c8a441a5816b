"""The project's error pages: the API's JSON envelope under /api/, friendly HTML elsewhere."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from loyalty.core.envelope import envelope_response, is_api_request

_PAGES = {
    400: ("bad_request", "That request could not be understood."),
    403: ("permission_denied", "You may not see this page."),
    404: ("not_found", "No such page or object."),
    500: ("internal_error", "Something went wrong on our side."),
}


def _respond(request: HttpRequest, status: int) -> HttpResponse:
    code, message = _PAGES[status]
    if is_api_request(request):
        return envelope_response(status, code, message)
    return render(request, "error.html", {"status": status, "message": message}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _respond(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _respond(request, 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _respond(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return _respond(request, 500)
