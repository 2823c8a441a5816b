"""Each perk type's parameters: parsed from JSON into a typed value, or refused with the
name of the parameter at fault (`params.max_amount`). Stored back as plain JSON, amounts
as decimal strings."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias

from django.db import models
from django.utils.translation import gettext_lazy as _

from loyalty.core.errors import Invalid
from perks.catalog.models import PerkType
from perks.catalog.money import amount_parse, currency_code

MAX_BPS = 10_000
MAX_ENTRIES = 100
MAX_CURRENCIES = 50


class AccessKind(models.TextChoices):
    LOUNGE = "lounge", _("Lounge")
    WAITING_ROOM = "waiting_room", _("Waiting room")
    FAST_TRACK = "fast_track", _("Fast track")


@dataclass(frozen=True)
class DepositWaiverParams:
    max_amount: Decimal
    currency: str


@dataclass(frozen=True)
class FxMarginParams:
    margin_reduction_bps: int
    currencies: tuple[str, ...]  # empty: every currency the bureau trades


@dataclass(frozen=True)
class AccessPassParams:
    venue: str
    kind: str
    entries_per_voucher: int


@dataclass(frozen=True)
class FreeItemParams:
    item: str
    max_value: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True)
class DiscountParams:
    percent: Decimal | None = None
    amount_off: Decimal | None = None
    currency: str | None = None
    min_spend: Decimal | None = None
    max_discount: Decimal | None = None


PerkParams: TypeAlias = (
    DepositWaiverParams | FxMarginParams | AccessPassParams | FreeItemParams | DiscountParams
)


class _Reader:
    """Reads one parameter at a time, naming it in every error; refuses keys nobody read."""

    def __init__(self, raw: object) -> None:
        if not isinstance(raw, Mapping):
            raise Invalid("params must be an object.", param="params")
        self.raw = raw
        self.read: set[str] = set()

    def _get(self, key: str, required: bool) -> Any:
        self.read.add(key)
        value = self.raw.get(key)
        if value in (None, "") and required:
            raise Invalid(f"{key} is required for this type of perk.", param=self.param(key))
        return None if value in (None, "") else value

    def param(self, key: str) -> str:
        return f"params.{key}"

    def text(self, key: str, *, max_length: int = 120) -> str:
        value = self._get(key, True)
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > max_length:
            raise Invalid(f"{key} is text of 1–{max_length} characters.", param=self.param(key))
        return value.strip()

    def integer(self, key: str, *, low: int, high: int) -> int:
        value = self._get(key, True)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise Invalid(f"{key} is a whole number from {low} to {high}.", param=self.param(key))
        return value

    def choice(self, key: str, choices: list[str]) -> str:
        value = self._get(key, True)
        if value not in choices:
            raise Invalid(f"{key} is one of {', '.join(choices)}.", param=self.param(key))
        return str(value)

    def currency(self, key: str = "currency") -> str:
        return currency_code(self._get(key, True), param=self.param(key))

    def optional_currency(self, key: str = "currency") -> str | None:
        return self.currency(key) if self._get(key, False) is not None else None

    def currencies(self, key: str) -> tuple[str, ...]:
        value = self._get(key, False) or []
        if not isinstance(value, list) or len(value) > MAX_CURRENCIES:
            raise Invalid(f"{key} is a list of ISO 4217 codes.", param=self.param(key))
        return tuple(sorted({currency_code(code, param=self.param(key)) for code in value}))

    def amount(self, key: str, currency: str) -> Decimal:
        return amount_parse(self._get(key, True), currency=currency, param=self.param(key), positive=True)

    def optional_amount(self, key: str, currency: str | None) -> Decimal | None:
        if self._get(key, False) is None:
            return None
        if currency is None:
            raise Invalid(f"{key} needs a currency.", param=self.param("currency"))
        return self.amount(key, currency)

    def percent(self, key: str) -> Decimal | None:
        value = self._get(key, False)
        if value is None:
            return None
        try:
            percent = Decimal(str(value)) if not isinstance(value, (float, bool)) else None
        except InvalidOperation:
            percent = None
        if (
            percent is None
            or not percent.is_finite()
            or not 0 < percent <= 100
            or percent != round(percent, 2)
        ):
            raise Invalid(f'{key} is a number above 0 and at most 100, such as "15".', param=self.param(key))
        return percent

    def done(self) -> None:
        unknown = sorted(set(self.raw) - self.read)
        if unknown:
            raise Invalid(
                f"Unknown parameter {unknown[0]!r} for this type of perk.", param=self.param(unknown[0])
            )


def _deposit_waiver(r: _Reader) -> DepositWaiverParams:
    currency = r.currency()
    return DepositWaiverParams(max_amount=r.amount("max_amount", currency), currency=currency)


def _fx_margin(r: _Reader) -> FxMarginParams:
    return FxMarginParams(
        margin_reduction_bps=r.integer("margin_reduction_bps", low=1, high=MAX_BPS),
        currencies=r.currencies("currencies"),
    )


def _access_pass(r: _Reader) -> AccessPassParams:
    return AccessPassParams(
        venue=r.text("venue"),
        kind=r.choice("kind", AccessKind.values),
        entries_per_voucher=r.integer("entries_per_voucher", low=1, high=MAX_ENTRIES),
    )


def _free_item(r: _Reader) -> FreeItemParams:
    item = r.text("item")
    currency = r.optional_currency()
    return FreeItemParams(item=item, max_value=r.optional_amount("max_value", currency), currency=currency)


def _discount(r: _Reader) -> DiscountParams:
    percent = r.percent("percent")
    currency = r.optional_currency()
    params = DiscountParams(
        percent=percent,
        amount_off=r.optional_amount("amount_off", currency),
        currency=currency,
        min_spend=r.optional_amount("min_spend", currency),
        max_discount=r.optional_amount("max_discount", currency),
    )
    if (params.percent is None) == (params.amount_off is None):
        raise Invalid("A discount is either a percent or an amount_off, not both.", param=r.param("percent"))
    if params.max_discount is not None and params.percent is None:
        raise Invalid("max_discount caps a percent discount.", param=r.param("max_discount"))
    return params


# The parameters each perk type takes: what the API's schema and the portal's form are built from.
PARAMS_OF_TYPE: dict[str, type[PerkParams]] = {
    PerkType.DEPOSIT_WAIVER: DepositWaiverParams,
    PerkType.FX_MARGIN: FxMarginParams,
    PerkType.ACCESS_PASS: AccessPassParams,
    PerkType.FREE_ITEM: FreeItemParams,
    PerkType.DISCOUNT: DiscountParams,
}

_PARSERS: dict[str, Callable[[_Reader], PerkParams]] = {
    PerkType.DEPOSIT_WAIVER: _deposit_waiver,
    PerkType.FX_MARGIN: _fx_margin,
    PerkType.ACCESS_PASS: _access_pass,
    PerkType.FREE_ITEM: _free_item,
    PerkType.DISCOUNT: _discount,
}


def params_parse(perk_type: str, raw: object) -> PerkParams:
    parser = _PARSERS.get(perk_type)
    if parser is None:
        raise Invalid(f"Unknown perk type {perk_type!r}; one of {', '.join(PerkType.values)}.", param="type")
    reader = _Reader(raw)
    params = parser(reader)
    reader.done()
    return params


def params_as_json(params: PerkParams) -> dict[str, Any]:
    """What is stored: only the parameters set; amounts as strings; lists as lists."""
    stored: dict[str, Any] = {}
    for key, value in vars(params).items():
        if value is None:
            continue
        stored[key] = (
            str(value) if isinstance(value, Decimal) else list(value) if isinstance(value, tuple) else value
        )
    return stored
