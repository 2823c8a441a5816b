"""Request bodies over the API's limit are refused from their declared length, unread."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from loyalty.core.envelope import envelope_response, is_api_request
from surfaces.api.exception_handler import request_too_large_message


class ApiBodyLimitMiddleware:
    """413 `request_too_large` before anything reads the body.

    Sits above everything that could read it, so neither the body is buffered nor does
    Django's own DATA_UPLOAD_MAX_MEMORY_SIZE turn it into a 400. A body sent without a
    length (chunked) reaches Django as an empty one, which the views treat as no body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_request(request) and _declared_length(request) > settings.API_MAX_BODY_BYTES:
            return envelope_response(413, "request_too_large", request_too_large_message())
        return self.get_response(request)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
