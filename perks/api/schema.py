"""The OpenAPI schema, derived from what each view declares, so it cannot drift from it.

Every operation gets the error responses it can really give, each with the envelope as
its body and the codes listed: 401 and 429 always; 400 where it takes a body or list
parameters; 403 where a write needs a scope; 404 where the path names an object; 409,
413 and 422 on POST (idempotency and size); plus the domain errors the view declares in
`errors`. POSTs document Idempotency-Key; lists document `limit` and `starting_after`.
"""

from collections import defaultdict
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from perks.api.errors import (
    IdempotencyKeyReused,
    IdempotencyRequestInProgress,
    domain_error_status,
    error_body,
    error_type,
)
from perks.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, REF_PATTERN
from perks.api.serializers import page_serializer

_IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]{1,255}$"},
    OpenApiParameter.HEADER,
    description=(
        "1–255 printable ASCII characters (a UUID is ideal). Retrying with the same key and body "
        "within 24 hours returns the first response, status and body, and changes nothing."
    ),
)
_REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    {"type": "string", "enum": ["true"]},
    OpenApiParameter.HEADER,
    response=True,
    description="Present on a response replayed for a repeated Idempotency-Key.",
)
_RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    {"type": "string", "pattern": "^[0-9]+$"},
    OpenApiParameter.HEADER,
    response=[429],
    required=True,
    description="Seconds to wait before the next request with this key.",
)
PAGE_PARAMETERS = [
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        OpenApiParameter.QUERY,
        description=f"How many objects to return, 1–{MAX_LIMIT}.",
    ),
    OpenApiParameter(
        "starting_after",
        {"type": "string", "pattern": f"^{REF_PATTERN}$"},
        OpenApiParameter.QUERY,
        description="The id of the last object of the previous page: the page continues after it.",
    ),
]
_ERROR_TITLES = {
    400: "The request is malformed or a value is invalid; `param` names it.",
    401: "No API key, or one that is wrong or revoked.",
    403: "The API key lacks the scope this needs.",
    404: "No such object for this merchant.",
    409: "The object's state forbids this right now.",
    413: "The request body is over 1 MiB.",
    422: "Understood, and refused by the rules; `code` says why.",
    429: "Too many requests with this key; wait Retry-After seconds.",
}


ERROR_TYPES = ["invalid_request", "authentication", "permission", "not_found", "conflict", "rate_limit", "api_error"]


class _ErrorDetail(serializers.Serializer):  # type: ignore[type-arg]
    type = serializers.ChoiceField(choices=ERROR_TYPES)
    code = serializers.CharField(help_text="Stable: branch on it.")
    message = serializers.CharField(help_text="For people; may change.")
    param = serializers.CharField(allow_null=True, help_text="The field or header at fault, if one is.")


class ErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    error = _ErrorDetail()


class ApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "perks.api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "pk_live_<prefix>_<secret>",
            "description": "Authorization: Bearer <api key>. A key belongs to one merchant and carries scopes.",
        }


def list_schema(item: type[serializers.Serializer], **kwargs: Any) -> Any:  # type: ignore[type-arg]
    """`extend_schema` for a list view of `item`s: its page body and its parameters."""
    return extend_schema(responses=page_serializer(item), parameters=PAGE_PARAMETERS, **kwargs)


class PartnerAutoSchema(AutoSchema):
    def get_override_parameters(self) -> list[Any]:
        parameters: list[Any] = [*super().get_override_parameters(), _RETRY_AFTER]
        if self.method == "POST":
            parameters += [_IDEMPOTENCY_KEY, _REPLAYED]
        return parameters

    def get_operation_id(self) -> str:
        if self._takes_page_parameters():  # a list: AutoSchema only recognises generic views
            return "_".join([*(token.replace("-", "_") for token in self._tokenize_path()), "list"])
        return super().get_operation_id()

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for status, codes in sorted(self._error_codes().items()):
            responses.setdefault(str(status), self._error_response(status, codes))
        return responses

    def _error_codes(self) -> dict[int, list[str]]:
        codes: dict[int, list[str]] = defaultdict(list)
        method = self.method.lower()
        declared = getattr(self.view, "errors", {}).get(method, ())
        _add(codes, 401, "authentication_failed")
        _add(codes, 429, "rate_limited")
        if self.method == "POST":
            _add(codes, 400, "validation_error", "malformed_json")
            _add(codes, 413, "request_too_large")
            for error in (IdempotencyRequestInProgress, IdempotencyKeyReused):
                _add(codes, domain_error_status(error), error.code)
        if self._takes_page_parameters():
            _add(codes, 400, "validation_error")
        if self.method != "GET" and isinstance(getattr(self.view, "write_scope", None), str):
            _add(codes, 403, "permission_denied")
        if "{" in self.path:
            _add(codes, 404, "not_found")
        for error in declared:
            _add(codes, domain_error_status(error), error.code)
        return codes

    def _takes_page_parameters(self) -> bool:
        return any(p is PAGE_PARAMETERS[0] for p in self.get_override_parameters())

    def _error_response(self, status: int, codes: list[str]) -> dict[str, Any]:
        examples = [
            OpenApiExample(code, value=error_body(status, code, _ERROR_TITLES[status]), status_codes=[status])
            for code in codes
        ]
        listed = ", ".join(f"`{code}`" for code in codes)
        response = OpenApiResponse(
            ErrorSerializer,
            description=f"{_ERROR_TITLES[status]} `type` is `{error_type(status)}`; `code` is one of {listed}.",
            examples=examples,
        )
        return self._get_response_for_code(response, str(status))  # type: ignore[no-any-return]


def _add(codes: dict[int, list[str]], status: int, *new: str) -> None:
    codes[status].extend(code for code in new if code not in codes[status])
