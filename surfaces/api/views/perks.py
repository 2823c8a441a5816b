import dataclasses
import types
import typing
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty.scoring.models import SCORE_MAX, SCORE_MIN
from perks.catalog import services as catalog
from perks.catalog.models import LimitPeriod, PerkStatus, PerkType
from perks.catalog.params import (
    PARAMS_OF_TYPE,
    AccessKind,
)
from perks.catalog.selectors import perk_by_ref, perks_of_merchant
from perks.merchants.permissions import Scope
from surfaces.api.pagination import PAGE_QUERY_PARAMS
from surfaces.api.schema import list_schema
from surfaces.api.serializers import AwareDateTimeField, InputSerializer, StrictCharField
from surfaces.api.views.base import PartnerView, parsed, rendered

_DECIMAL = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "example": "5000.00"}
_SCALAR_SCHEMAS: dict[Any, dict[str, Any]] = {
    Decimal: _DECIMAL,
    int: {"type": "integer"},
    str: {"type": "string"},
    tuple[str, ...]: {"type": "array", "items": {"type": "string"}},
}


def _params_schema(perk_type: str, params: type) -> dict[str, Any]:
    """One perk type's parameters, read off the dataclass perks.catalog.params parses into."""
    properties: dict[str, Any] = {}
    required = []
    for field in dataclasses.fields(params):
        hint = typing.get_type_hints(params)[field.name]
        optional = isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)
        base = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
        schema = dict(_SCALAR_SCHEMAS[base])
        if field.name == "kind":
            schema["enum"] = AccessKind.values
        properties[field.name] = schema
        if not optional and field.default is dataclasses.MISSING:
            required.append(field.name)
    schema = {"title": perk_type, "type": "object", "properties": properties, "additionalProperties": False}
    return {**schema, "required": required} if required else schema


@extend_schema_field(
    {
        "anyOf": [_params_schema(perk_type, params) for perk_type, params in PARAMS_OF_TYPE.items()],
        "description": "The parameters of the perk's `type`; amounts are decimal strings.",
    }
)
class PerkParamsField(serializers.DictField):
    pass


class PerkSerializer(serializers.Serializer):
    id = serializers.CharField(source="ref", read_only=True)
    type = serializers.ChoiceField(choices=PerkType.choices, read_only=True)
    title = serializers.CharField(read_only=True)
    title_zh = serializers.CharField(
        read_only=True, help_text="The title in Simplified Chinese; may be empty."
    )
    description = serializers.CharField(read_only=True)
    description_zh = serializers.CharField(
        read_only=True, help_text="The description in Simplified Chinese; may be empty."
    )
    params = PerkParamsField(read_only=True)
    min_tier = serializers.CharField(source="min_tier.slug", allow_null=True, read_only=True)
    min_score = serializers.IntegerField(allow_null=True, read_only=True)
    hold_free_days = serializers.IntegerField(allow_null=True, read_only=True)
    points_cost = serializers.IntegerField(read_only=True)
    valid_from = serializers.DateTimeField(read_only=True)
    valid_until = serializers.DateTimeField(allow_null=True, read_only=True)
    inventory = serializers.IntegerField(allow_null=True, read_only=True)
    issued_count = serializers.IntegerField(read_only=True, help_text="Vouchers issued so far.")
    per_member_limit = serializers.IntegerField(allow_null=True, read_only=True)
    limit_period = serializers.ChoiceField(choices=LimitPeriod.choices, read_only=True)
    uses_per_voucher = serializers.IntegerField(read_only=True)
    voucher_ttl_days = serializers.IntegerField(read_only=True)
    auto_issue = serializers.BooleanField(read_only=True)
    status = serializers.ChoiceField(choices=PerkStatus.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


def _optional_int(low: int, high: int, help_text: str = "") -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=low, max_value=high, required=False, allow_null=True, help_text=help_text
    )


class PerkCreateSerializer(InputSerializer):
    type = serializers.ChoiceField(choices=PerkType.choices)
    title = StrictCharField(max_length=120, help_text="In English; members reading Chinese see title_zh.")
    title_zh = StrictCharField(
        max_length=120,
        required=False,
        allow_blank=True,
        help_text="The title in Simplified Chinese; without it, members reading Chinese see the English.",
    )
    description = StrictCharField(max_length=2000, required=False, allow_blank=True)
    description_zh = StrictCharField(
        max_length=2000, required=False, allow_blank=True, help_text="The description in Simplified Chinese."
    )
    params = PerkParamsField()
    min_tier = StrictCharField(
        max_length=32,
        required=False,
        allow_null=True,
        help_text="A tier slug, such as gold; or give min_score.",
    )
    min_score = _optional_int(SCORE_MIN, SCORE_MAX, "Or a minimum score; not both.")
    hold_free_days = _optional_int(
        1, catalog.MAX_HOLD_FREE_DAYS, "Only members with no hold in this many days qualify."
    )
    points_cost = serializers.IntegerField(min_value=0, max_value=catalog.MAX_POINTS_COST, required=False)
    valid_from = AwareDateTimeField(required=False)
    valid_until = AwareDateTimeField(required=False, allow_null=True)
    inventory = _optional_int(0, catalog.MAX_INVENTORY, "How many vouchers may ever be issued; none: no cap.")
    per_member_limit = _optional_int(1, catalog.MAX_INVENTORY, "Vouchers per member per limit_period.")
    limit_period = serializers.ChoiceField(choices=LimitPeriod.choices, required=False)
    uses_per_voucher = _optional_int(1, catalog.MAX_USES_PER_VOUCHER, "Default 1; an access pass's entries.")
    voucher_ttl_days = serializers.IntegerField(
        min_value=1, max_value=catalog.MAX_VOUCHER_TTL_DAYS, required=False
    )
    auto_issue = serializers.BooleanField(required=False, help_text="Issue to members on reaching min_tier.")
    status = serializers.ChoiceField(
        choices=catalog.CREATABLE_STATUSES, required=False, help_text="Default draft."
    )


_PERK_EXAMPLE = {
    "id": "prk_0a2c4e6g8j0m2p4r6t8w",
    "type": "deposit_waiver",
    "title": "Rent without a deposit (up to 5,000 CNY)",
    "title_zh": "免押金租车（最高 5,000 元）",
    "description": "",
    "description_zh": "",
    "params": {"max_amount": "5000.00", "currency": "CNY"},
    "min_tier": None,
    "min_score": 650,
    "hold_free_days": 180,
    "points_cost": 0,
    "valid_from": "2026-05-01T09:00:00+08:00",
    "valid_until": None,
    "inventory": None,
    "issued_count": 0,
    "per_member_limit": 2,
    "limit_period": "month",
    "uses_per_voucher": 1,
    "voucher_ttl_days": 30,
    "auto_issue": False,
    "status": "active",
    "created_at": "2026-05-01T09:00:00+08:00",
}


class PerksView(PartnerView):
    write_scope = Scope.PERKS_WRITE
    query_params = PAGE_QUERY_PARAMS

    @list_schema(PerkSerializer)
    def get(self, request: Request) -> Response:
        """This merchant's perks, newest first."""
        return self.page_response(perks_of_merchant(merchant=self.merchant), PerkSerializer)

    @extend_schema(
        request=PerkCreateSerializer,
        responses={201: PerkSerializer},
        examples=[
            OpenApiExample(
                "A deposit waiver from score 650",
                request_only=True,
                value={
                    "type": "deposit_waiver",
                    "title": "Rent without a deposit (up to 5,000 CNY)",
                    "title_zh": "免押金租车（最高 5,000 元）",
                    "params": {"max_amount": "5000.00", "currency": "CNY"},
                    "min_score": 650,
                    "hold_free_days": 180,
                    "per_member_limit": 2,
                    "limit_period": "month",
                    "status": "active",
                },
            ),
            OpenApiExample("Created", response_only=True, status_codes=[201], value=_PERK_EXAMPLE),
        ],
    )
    def post(self, request: Request) -> Response:
        """Create a perk. Its `params` are typed by its `type`; a value a rule refuses is a 400 naming it."""
        perk = catalog.perk_create(
            merchant=self.merchant, actor=self.api_key, **parsed(PerkCreateSerializer, request)
        )
        return Response(rendered(PerkSerializer, perk), status=status.HTTP_201_CREATED)


class PerkView(PartnerView):
    @extend_schema(
        responses=PerkSerializer,
        examples=[OpenApiExample("A perk", value=_PERK_EXAMPLE)],
    )
    def get(self, request: Request, perk_id: str) -> Response:
        """One of this merchant's perks."""
        return Response(rendered(PerkSerializer, perk_by_ref(merchant=self.merchant, ref=perk_id)))
