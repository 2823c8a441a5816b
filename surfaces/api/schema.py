"""The OpenAPI schema, derived from what each view declares, so it cannot drift from it.

Every operation gets the error responses it can really give, each with the envelope as
its body and the codes listed: 401 and 429 always; 400 where it takes a body or list
parameters; 403 where a write needs a scope; 404 where the path names an object; 409,
413 and 422 on POST (idempotency and size); plus the domain errors the view declares in
`errors` (a 503 with its Retry-After, where a payment provider is needed). POSTs document
Idempotency-Key; lists document `limit` and `starting_after`.
"""

from collections import defaultdict
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from loyalty.core.envelope import error_body, error_type
from surfaces.api.exception_handler import (
    IdempotencyKeyReused,
    IdempotencyRequestInProgress,
    domain_error_status,
    request_too_large_message,
)
from surfaces.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, REF_PATTERN
from surfaces.api.serializers import page_serializer

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
    response=[429, 503],
    required=True,
    description="Seconds to wait before sending the request again.",
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
    503: "A payment provider this needs cannot be reached; nothing was changed: retry after Retry-After.",
}


ERROR_TYPES = [
    "invalid_request",
    "authentication",
    "permission",
    "not_found",
    "conflict",
    "rate_limit",
    "api_error",
]


class ErrorDetailSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ERROR_TYPES)
    code = serializers.CharField(help_text="Stable: branch on it.")
    message = serializers.CharField(help_text="For people; may change.")
    param = serializers.CharField(allow_null=True, help_text="The field or header at fault, if one is.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "surfaces.api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "pk_live_<prefix>_<secret>",
            "description": "Authorization: Bearer <api key>. A key belongs to one merchant, with scopes.",
        }


def list_schema(item: type[serializers.Serializer], **kwargs: Any) -> Any:
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
        for status, examples in sorted(self._errors().items()):
            responses.setdefault(str(status), self._error_response(status, examples))
        return responses

    def _errors(self) -> dict[int, dict[str, tuple[str, str | None]]]:
        """Status → code → an example (message, param) of each error this operation can give."""
        errors: dict[int, dict[str, tuple[str, str | None]]] = defaultdict(dict)

        def add(status: int, code: str, message: str, param: str | None = None) -> None:
            errors[status].setdefault(code, (message, param))

        add(401, "authentication_failed", "This API key is not valid: it is wrong or revoked.")
        add(429, "rate_limited", "Request was throttled. Expected available in 42 seconds.")
        if self._takes_page_parameters():
            add(400, "validation_error", f"limit is a whole number from 1 to {MAX_LIMIT}.", "limit")
        if self.method == "POST":
            add(400, "validation_error", "This field is required.", self._first_body_field())
            add(
                400,
                "malformed_json",
                "The body is not valid UTF-8 JSON: Expecting value: line 1 column 1 (char 0)",
            )
            add(413, "request_too_large", request_too_large_message())
        scope = getattr(self.view, "write_scope", None)
        if self.method != "GET" and isinstance(scope, str):
            add(403, "permission_denied", f"This API key needs the {scope} scope.")
        if "{" in self.path:
            add(404, "not_found", "No such object.")
        declared = getattr(self.view, "errors", {}).get(self.method.lower(), ())
        extra = (IdempotencyRequestInProgress, IdempotencyKeyReused) if self.method == "POST" else ()
        for error in (*declared, *extra):
            add(domain_error_status(error), error.code, error.default_message)
        return errors

    def _takes_page_parameters(self) -> bool:
        return any(p is PAGE_PARAMETERS[0] for p in self.get_override_parameters())

    def _first_body_field(self) -> str | None:
        serializer = force_instance(self.get_request_serializer())
        return (
            next(iter(serializer.fields.keys()), None)
            if isinstance(serializer, serializers.Serializer)
            else None
        )

    def _error_response(self, status: int, examples: dict[str, tuple[str, str | None]]) -> dict[str, Any]:
        listed = ", ".join(f"`{code}`" for code in examples)
        response = OpenApiResponse(
            ErrorSerializer,
            description=f"{_ERROR_TITLES[status]} `type` is `{error_type(status)}`; `code`: {listed}.",
            examples=[
                OpenApiExample(code, value=error_body(status, code, message, param), status_codes=[status])
                for code, (message, param) in examples.items()
            ],
        )
        response_object: dict[str, Any] = self._get_response_for_code(response, str(status))
        return response_object
