"""How the citizen app writes dates, numbers and money: one way each, in the active language.

`{% load app_format %}`, then `{{ value|day }}`, `{{ value|moment }}`, `{{ value|points }}`
and `{{ amount|money:currency }}`. The formats themselves are config/formats/<language>:
"7 Dec 2026" and "2026年12月7日", a 24-hour time, digits grouped in threes.
"""

from datetime import date, datetime
from decimal import Decimal

from django import template
from django.utils import formats, timezone

from perks.catalog.money import money_text

register = template.Library()


@register.filter
def day(value: date | datetime | None) -> str:
    """A calendar day, as the active language writes it: 7 Dec 2026, 2026年12月7日."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return formats.date_format(value, "DATE_FORMAT")


@register.filter
def moment(value: datetime | None) -> str:
    """A day and a time of day: 7 Dec 2026, 14:30; 2026年12月7日 14:30."""
    if value is None or value == "":
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, "DATETIME_FORMAT")


@register.filter
def points(value: int | None) -> str:
    """A whole number of points, grouped in thousands: 12,345."""
    if value is None or value == "":
        return ""
    return formats.number_format(int(value), decimal_pos=0, force_grouping=True)


@register.filter
def money(value: Decimal | int | str | None, currency: str = "") -> str:
    """An amount with its currency, grouped in thousands: ¥5,000.00, -US$12.50, CHF 3.00
    (perks.catalog.money.money_text, which perks' own wording uses too)."""
    if value is None or value == "":
        return ""
    return money_text(Decimal(value), currency or "")
