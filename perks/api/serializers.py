"""Pieces every endpoint's serializers are built from, so each one parses input the same way."""

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

BATCH_MAX = 1000


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


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a time zone, as the contract says: a time without one is ambiguous."""

    default_error_messages = {"naive": "Give a time zone, such as 2026-05-01T09:00:00+08:00 or …Z."}

    def to_internal_value(self, value: Any) -> datetime:
        parsed = parse_datetime(value) if isinstance(value, str) else None
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
