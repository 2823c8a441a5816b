"""The served OpenAPI schema describes exactly the API, and the docs work offline."""

import re

import pytest
from django.contrib.staticfiles import finders
from drf_spectacular.validation import validate_schema

from tests.surfaces.api.conftest import api_routes

pytestmark = pytest.mark.django_db

ENVELOPE = "#/components/schemas/Error"


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_schema_is_valid_openapi(schema):
    validate_schema(schema)


def test_it_lists_every_api_path_and_nothing_else(schema):
    assert set(schema["paths"]) == {path for path, _ in api_routes()}
    assert all(not path.endswith("/") for path in schema["paths"])


def test_the_bearer_scheme_guards_every_operation(schema):
    scheme = schema["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, method, operation in _operations(schema):
        assert operation["security"] == [{"apiKey": []}], (path, method)


def _error_codes(operation, status):
    response = operation["responses"][str(status)]
    assert response["content"]["application/json"]["schema"]["$ref"] == ENVELOPE
    return {
        example["value"]["error"]["code"]
        for example in response["content"]["application/json"]["examples"].values()
    }


def test_every_operation_documents_auth_and_rate_limit_errors(schema):
    for _, _, operation in _operations(schema):
        assert _error_codes(operation, 401) == {"authentication_failed"}
        assert _error_codes(operation, 429) == {"rate_limited"}
        assert operation["responses"]["429"]["headers"]["Retry-After"]["required"] is True


def test_every_post_documents_idempotency_and_size(schema):
    posts = [operation for _, method, operation in _operations(schema) if method == "post"]
    assert posts
    for operation in posts:
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert "Idempotency-Key" in headers
        assert {"validation_error", "malformed_json"} <= _error_codes(operation, 400)
        assert "idempotency_request_in_progress" in _error_codes(operation, 409)
        assert "idempotency_key_reused" in _error_codes(operation, 422)
        assert _error_codes(operation, 413) == {"request_too_large"}
        success = next(status for status in operation["responses"] if status.startswith("2"))
        assert "Idempotent-Replayed" in operation["responses"][success]["headers"]


def test_object_paths_document_404_and_lists_their_page_parameters(schema):
    for path, _, operation in _operations(schema):
        if "{" in path:
            assert _error_codes(operation, 404) == {"not_found"}
        if operation["operationId"].endswith("_list"):
            assert {p["name"] for p in operation["parameters"]} >= {"limit", "starting_after"}
            assert _error_codes(operation, 400) == {"validation_error"}
            page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            assert set(schema["components"]["schemas"][page.rsplit("/", 1)[1]]["properties"]) == {
                "data",
                "has_more",
            }


def test_scoped_writes_document_403(schema):
    operation = schema["paths"]["/api/v1/perks"]["post"]

    assert _error_codes(operation, 403) == {"permission_denied"}
    assert "403" not in schema["paths"]["/api/v1/perks"]["get"]["responses"]


def test_operations_carry_examples(schema):
    create = schema["paths"]["/api/v1/perks"]["post"]

    assert create["requestBody"]["content"]["application/json"]["examples"]
    assert create["responses"]["201"]["content"]["application/json"]["examples"]


def test_the_interactive_docs_are_served_offline(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assets = re.findall(r'(?:src|href)="/static/([^"]+)"', response.content.decode())
    assert any("swagger-ui" in asset for asset in assets)
    for asset in assets:
        assert finders.find(asset), asset


def test_the_schema_generates_without_warnings():
    """A warning here (an enum name collision, an unresolvable field) also fails
    `check --deploy --fail-level WARNING` in CI's smoke run."""
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    SchemaGenerator().get_schema(request=None, public=True)

    assert not GENERATOR_STATS._warn_cache, list(GENERATOR_STATS._warn_cache)
