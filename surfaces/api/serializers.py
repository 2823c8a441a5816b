"""Pieces every endpoint's serializers are built from, so each one parses input the same way."""

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from perks.catalog.money import quantize
from perks.vouchers.codes import code_format

BATCH_MAX = 1000
AMOUNT_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,4})?$"
_AMOUNT = re.compile(AMOUNT_PATTERN)


class InputSerializer(serializers.Serializer):
    """A request body: an object whose unknown fields are refused, naming the first one,
    so a typo (`min_teir`) is an error and not a silently ignored setting."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(name) for name in data if name not in writable)
            if unknown:
                raise serializers.ValidationError({unknown[0]: ["Unknown field."]})
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF's CharField would quietly read 12345 as "12345", so
    `{"code": 12345}` would look up a code and answer 404 instead of saying what is wrong.
    Every text field of a request body is one of these (or a subclass)."""

    default_error_messages = {"invalid": "Give a string, in quotes: not a number, boolean, list or object."}

    def to_internal_value(self, data: Any) -> str:
        # CharField's own, less its coercion of numbers: one isinstance, no str() of it.
        if not isinstance(data, str):
            self.fail("invalid")
        return data.strip() if self.trim_whitespace else data


AMOUNT_SCHEMA = {"type": "string", "pattern": AMOUNT_PATTERN, "example": "120.00"}


@extend_schema_field(AMOUNT_SCHEMA)
class AmountField(serializers.RegexField):
    """An amount as the contract writes it: a decimal string, never a JSON number (a float
    cannot carry money exactly). The service checks it against its currency."""

    default_error_messages = {"invalid": 'An amount is a decimal string, such as "120.00".'}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(AMOUNT_PATTERN, **kwargs)

    def to_internal_value(self, data: Any) -> Decimal:  # type: ignore[override]
        # The pattern is checked here, not left to the validators that run after this: a
        # string such as "5.5*" must be a 400, never reach Decimal().
        if not isinstance(data, str) or not _AMOUNT.fullmatch(data):
            self.fail("invalid")
        return Decimal(super().to_internal_value(data))


class CurrencyField(serializers.RegexField):
    default_error_messages = {"invalid": "A currency is an ISO 4217 code, such as CNY or EUR."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(r"^[A-Z]{3}$", **kwargs)


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a time zone, as the contract says: a time without one is ambiguous."""

    default_error_messages = {"naive": "Give a time zone, such as 2026-05-01T09:00:00+08:00 or …Z."}

    def to_internal_value(self, value: Any) -> datetime:
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:  # well formed, but no such time (minute 99): DRF's parse says so, a 400
            parsed = None
        if parsed is not None and timezone.is_naive(parsed):
            self.fail("naive")
        return super().to_internal_value(value)


def batch_field(child: serializers.Field, *, help_text: str = "") -> serializers.ListField:
    """The list of a batch endpoint: 1 to BATCH_MAX items."""
    return serializers.ListField(child=child, min_length=1, max_length=BATCH_MAX, help_text=help_text)


@cache
def page_serializer(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """`{"data": [item, ...], "has_more": bool}`, named after the item (`Perk` → `PerkList`)."""
    name = f"{item.__name__.removesuffix('Serializer')}List"
    fields = {
        "data": item(many=True, read_only=True),
        "has_more": serializers.BooleanField(
            read_only=True, help_text="Whether older objects follow; pass the last id as starting_after."
        ),
    }
    return type(name, (serializers.Serializer,), fields)


_DECIMAL_STRING = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "nullable": True}


@extend_schema_field(
    {
        "type": "object",
        "description": (
            "What the perk gives, computed for the purchase described (amount and currency), "
            "with the fields of its type; amounts are decimal strings."
        ),
        "properties": {
            "type": {"type": "string"},
            "currency": {"type": "string", "nullable": True},
            "waived_amount": {**_DECIMAL_STRING, "description": "deposit_waiver: the deposit waived."},
            "max_amount": _DECIMAL_STRING,
            "margin_reduction_bps": {"type": "integer", "nullable": True, "description": "fx_margin."},
            "currencies": {"type": "array", "items": {"type": "string"}},
            "entries_remaining": {"type": "integer", "nullable": True, "description": "access_pass."},
            "venue": {"type": "string"},
            "kind": {"type": "string"},
            "discount_amount": {**_DECIMAL_STRING, "description": "discount: the amount taken off."},
            "percent": _DECIMAL_STRING,
            "min_spend": _DECIMAL_STRING,
            "min_spend_met": {"type": "boolean"},
            "item": {"type": "string"},
            "max_value": _DECIMAL_STRING,
        },
        "required": ["type"],
    }
)
class BenefitField(serializers.DictField):
    """A perk's benefit as perks.catalog.perk_benefit computes it (`Benefit.as_dict()`)."""

    def to_representation(self, value: Any) -> dict[str, Any]:
        return super().to_representation(value.as_dict() if hasattr(value, "as_dict") else value)


@extend_schema_field(
    {
        "type": "string",
        "pattern": "^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z*~$=]$",
        "example": "7K3M-9QXD-2RT4-8",
    }
)
class VoucherCodeField(serializers.CharField):
    """A voucher code as people read it, XXXX-XXXX-XXXX-C (stored without the hyphens)."""

    def to_representation(self, value: Any) -> str:
        return code_format(str(value))


def money_format(amount: Decimal | None, currency: str) -> str | None:
    """A stored amount as the contract writes it: a decimal string in its currency's unit."""
    if amount is None:
        return None
    return str(quantize(amount, currency)) if currency else str(amount.normalize())
