"""A JSON number, boolean, list or object where the contract says string is a 400, never
coerced: DRF's CharField would read `{"code": 12345}` as the code "12345" and answer 404."""

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers

import surfaces.api
from perks.vouchers.codes import code_format
from tests.factories import JoinedMemberFactory, PerkFactory
from tests.factories.vouchers import VoucherFactory
from tests.surfaces.api.conftest import Partner, assert_error

NOT_STRINGS: tuple[Any, ...] = (12345, 1.5, 0, True, ["7K3M"], {"code": "7K3M"})
# Fields that hold text, as DRF names them: CharField (and its RegexField, URLField, …) and
# ChoiceField. The schema writes each of them as a string.
TEXT_FIELDS = (serializers.CharField, serializers.ChoiceField)


def _api_serializers() -> Iterator[type[serializers.Serializer]]:
    """Every serializer class the partner API defines, its view modules imported first."""
    for module in pkgutil.walk_packages(surfaces.api.__path__, prefix="surfaces.api."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    pending: list[type[serializers.Serializer]] = [serializers.Serializer]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("surfaces.api."):
            yield cls


def _request_serializers() -> dict[str, type[serializers.Serializer]]:
    """The serializer of each request body in the served schema, by its component's name
    (drf-spectacular's: the class name without `Serializer`, plus `Request`)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    bodies = {
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        for item in schema["paths"].values()
        for operation in item.values()
        if "requestBody" in operation
    }
    by_component = {f"{cls.__name__.removesuffix('Serializer')}Request": cls for cls in _api_serializers()}
    unknown = bodies - by_component.keys()
    assert not unknown, f"request bodies with no serializer in surfaces.api: {sorted(unknown)}"
    return {name: by_component[name] for name in sorted(bodies)}


def _writable_text_fields(
    field: serializers.Field | None, path: str
) -> Iterator[tuple[str, serializers.Field]]:
    """The text fields a request may set, nested serializers, lists and maps included."""
    if field is None or field.read_only:
        return
    if isinstance(field, serializers.Serializer):
        for name, child in field.fields.items():
            yield from _writable_text_fields(child, f"{path}.{name}")
    elif isinstance(field, (serializers.ListSerializer, serializers.ListField, serializers.DictField)):
        yield from _writable_text_fields(field.child, f"{path}[]")
    elif isinstance(field, TEXT_FIELDS):
        yield path, field


def _every_writable_text_field() -> list[tuple[str, serializers.Field]]:
    return [
        found
        for name, serializer in _request_serializers().items()
        for found in _writable_text_fields(serializer(), name)
    ]


TEXT_INPUTS = _every_writable_text_field()


def test_the_walk_finds_the_fields_the_contract_names():
    names = {path for path, _ in TEXT_INPUTS}

    assert {
        "RedemptionInputRequest.code",
        "RedemptionInputRequest.metadata[]",
        "BatchInputRequest.redemptions[].code",
        "VoucherIssueRequest.perk",
        "VoucherIssueRequest.member",
        "EventBatchRequest.events[].id",
        "EventBatchRequest.events[].type",
        "WebhookEndpointCreateRequest.url",
        "WebhookEndpointCreateRequest.events[]",
    } <= names


@pytest.mark.parametrize(("path", "field"), TEXT_INPUTS, ids=[path for path, _ in TEXT_INPUTS])
def test_every_text_field_of_the_api_refuses_what_is_not_a_string(path, field):
    """Walked from the served schema's request bodies: a text field added to any of them
    later is checked here too, so a plain CharField cannot slip back in."""
    for value in NOT_STRINGS:
        with pytest.raises(serializers.ValidationError):
            field.run_validation(value)


@pytest.fixture
def voucher(partner: Partner):
    perk = PerkFactory.create(merchant=partner.merchant, type="discount", params={"percent": "10"})
    return VoucherFactory.create(perk=perk, member=JoinedMemberFactory.create())


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/redemptions", "/validations", "/reservations"])
@pytest.mark.parametrize("code", [12345, 1234567890123, True, ["7K3M-9QXD-2RT4-8"]])
def test_a_code_that_is_not_a_string_is_a_validation_error(partner, path, code):
    error = assert_error(partner.post(path, {"code": code}), 400, "validation_error", param="code")

    assert error["type"] == "invalid_request"


@pytest.mark.django_db
def test_a_code_made_only_of_digits_is_still_a_string_when_quoted(partner, voucher):
    """The strictness is about the JSON type: the same digits as a string are a code."""
    assert_error(partner.post("/redemptions", {"code": "12345"}), 404, "not_found", param="code")
    assert partner.post("/redemptions", {"code": code_format(voucher.code)}).status_code == 201


@pytest.mark.django_db
def test_a_batch_item_code_that_is_a_number_is_named_by_its_position(partner):
    item = {"code": 12345, "occurred_at": "2026-05-01T09:00:00Z"}

    assert_error(
        partner.post("/redemption-batches", {"redemptions": [item]}),
        400,
        "validation_error",
        param="redemptions[0].code",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"perk": 12345, "member": "mem_x"}, "perk"),
        ({"perk": "prk_x", "member": 12345}, "member"),
        ({"perk": "prk_x", "member_pass": 12345}, "member_pass"),
    ],
)
def test_issuing_a_voucher_with_a_number_for_a_ref_is_a_validation_error(partner, body, param):
    assert_error(partner.post("/vouchers", body), 400, "validation_error", param=param)
