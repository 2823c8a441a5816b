"""The JSON error envelope the whole site answers with under /api/ (docs/integration.md, Errors).

`{"error": {"type", "code", "message", "param"}}`, where `type` follows the status. It
lives in the shared kernel because two layers answer with it: the partner API's views,
and the project's own handlers for what never reaches a view (unknown paths, crashes).
"""

from typing import Any

from django.http import HttpRequest, JsonResponse

API_PREFIX = "/api/"

_TYPE_BY_STATUS = {
    401: "authentication",
    403: "permission",
    404: "not_found",
    409: "conflict",
    429: "rate_limit",
}


def error_type(status: int) -> str:
    if status >= 500:
        return "api_error"
    return _TYPE_BY_STATUS.get(status, "invalid_request")


def error_body(status: int, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"type": error_type(status), "code": code, "message": message, "param": param}}


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def envelope_response(status: int, code: str, message: str) -> JsonResponse:
    """For errors raised outside DRF's views (unknown paths, failures in middleware)."""
    return JsonResponse(error_body(status, code, message), status=status)
