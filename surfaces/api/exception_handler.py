"""Every exception raised in a partner API view, as the envelope (`loyalty.core.envelope`).

Domain errors keep their own stable `code`; their status comes from the family they belong to.
No request, however malformed, gets a 5xx page or HTML from here.
"""

import logging
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from loyalty.core import errors as domain
from loyalty.core.envelope import error_body

log = logging.getLogger(__name__)

_STATUS_BY_DOMAIN_FAMILY: tuple[tuple[type[domain.DomainError], int], ...] = (
    (domain.NotFound, 404),
    (domain.Conflict, 409),
    (domain.Invalid, 400),
    (domain.PermissionDenied, 403),
    (domain.Refused, 422),
    (domain.Unavailable, 503),
)

_CODE_BY_DRF_ERROR: tuple[tuple[type[drf.APIException], str], ...] = (
    (drf.ParseError, "malformed_json"),
    (drf.UnsupportedMediaType, "malformed_json"),
    (drf.ValidationError, "validation_error"),
    (drf.AuthenticationFailed, "authentication_failed"),
    (drf.NotAuthenticated, "authentication_failed"),
    (drf.PermissionDenied, "permission_denied"),
    (drf.NotFound, "not_found"),
    (drf.MethodNotAllowed, "method_not_allowed"),
    (drf.Throttled, "rate_limited"),
)


def domain_error_status(error: domain.DomainError | type[domain.DomainError]) -> int:
    kind = error if isinstance(error, type) else type(error)
    for family, status in _STATUS_BY_DOMAIN_FAMILY:
        if issubclass(kind, family):
            return status
    return 422


class RequestTooLarge(drf.APIException):
    status_code = 413
    default_code = "request_too_large"


class IdempotencyKeyReused(domain.Refused):
    code = "idempotency_key_reused"
    default_message = (
        "This Idempotency-Key was already used with another request; use a new key for a new request."
    )


class IdempotencyRequestInProgress(domain.Conflict):
    code = "idempotency_request_in_progress"
    default_message = "A request with this Idempotency-Key is still being processed; retry in a moment."


def _first_validation_error(detail: Any, path: str = "") -> tuple[str | None, str]:
    """The first message in DRF's nested error detail and the dotted path to its field."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                return _first_validation_error(value, path)
            return _first_validation_error(value, _child_path(path, key))
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if value in ({}, [], None):
                continue
            nested = isinstance(value, (dict, list))
            return _first_validation_error(value, f"{path}[{index}]" if nested else path)
    return (path or None), str(detail)


def _child_path(path: str, key: object) -> str:
    """`events[3].type`: list positions (DRF's ListField keys its errors by int) in brackets."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _drf_error(exc: drf.APIException) -> tuple[int, str, str, str | None]:
    code = next((c for kind, c in _CODE_BY_DRF_ERROR if isinstance(exc, kind)), "")
    status = exc.status_code
    if isinstance(exc, drf.UnsupportedMediaType):
        return 400, code, "Send a JSON body with Content-Type: application/json.", None
    if isinstance(exc, drf.ValidationError):
        param, message = _first_validation_error(exc.detail)
        return status, code, message, param
    return status, code or str(exc.default_code), str(exc.detail), None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's hook: every exception raised in an API view becomes the envelope."""
    headers: dict[str, str] = {}
    if isinstance(exc, domain.DomainError):
        status, code, message, param = domain_error_status(exc), exc.code, exc.message, exc.param
        if isinstance(exc, domain.Unavailable):
            headers["Retry-After"] = str(exc.retry_after_seconds)
    elif isinstance(exc, (Http404, DjangoPermissionDenied, RequestDataTooBig)):
        status, code, message, param = _drf_error(_as_drf(exc))
    elif isinstance(exc, drf.APIException):
        status, code, message, param = _drf_error(exc)
        if isinstance(exc, drf.Throttled):
            headers["Retry-After"] = str(max(1, math.ceil(getattr(exc, "wait", None) or 1)))
        if auth_header := getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = auth_header
    else:
        log.exception("unexpected error in %s", context.get("view").__class__.__name__)
        status, code, message, param = 500, "internal_error", "Something went wrong on our side.", None
    return Response(error_body(status, code, message, param), status=status, headers=headers)


def _as_drf(exc: Exception) -> drf.APIException:
    if isinstance(exc, Http404):
        return drf.NotFound()
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge(request_too_large_message())
    return drf.PermissionDenied()


def request_too_large_message() -> str:
    return f"The request body is over {settings.API_MAX_BODY_BYTES:,} bytes; send less at once."
