"""What a perk gives, in numbers: one pure function for redemption, validation and /benefits.

Decimal throughout, quantised to the currency's minor unit (half up, as a receipt rounds).
An amount in another currency than the perk's is refused rather than converted: Perkline
does not know the rate the merchant would use.
"""

from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any

from loyalty.core.errors import Invalid
from perks.catalog.models import Perk
from perks.catalog.money import purchase_parse, quantize
from perks.catalog.params import (
    AccessPassParams,
    DepositWaiverParams,
    DiscountParams,
    FreeItemParams,
    FxMarginParams,
    PerkParams,
    params_parse,
)


@dataclass(frozen=True)
class Benefit:
    type: str
    currency: str | None = None
    waived_amount: Decimal | None = None
    max_amount: Decimal | None = None
    margin_reduction_bps: int | None = None
    currencies: tuple[str, ...] | None = None
    entries_remaining: int | None = None
    venue: str | None = None
    kind: str | None = None
    discount_amount: Decimal | None = None
    percent: Decimal | None = None
    min_spend: Decimal | None = None
    min_spend_met: bool | None = None
    item: str | None = None
    max_value: Decimal | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the fields this type of benefit has, amounts as decimal strings."""
        out: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            out[field.name] = (
                str(value)
                if isinstance(value, Decimal)
                else list(value)
                if isinstance(value, tuple)
                else value
            )
        return out


def benefit_compute(
    *,
    perk: Perk,
    amount: Decimal | str | None = None,
    currency: str | None = None,
    uses_remaining: int | None = None,
) -> Benefit:
    """The benefit of `perk` for a purchase of `amount` in `currency` (both optional), with
    `uses_remaining` on the voucher (access passes count entries with it)."""
    params = params_parse(perk.type, perk.params)
    spent, currency = purchase_parse(amount, currency)
    if uses_remaining is not None and uses_remaining < 0:
        raise Invalid("uses_remaining cannot be negative.", param="uses_remaining")
    return _compute(perk.type, params, spent, currency, uses_remaining)


def _compute(
    perk_type: str,
    params: PerkParams,
    amount: Decimal | None,
    currency: str | None,
    uses_remaining: int | None,
) -> Benefit:
    if isinstance(params, DepositWaiverParams):
        _same_currency(currency, params.currency, "waives deposits")
        waived = params.max_amount if amount is None else min(amount, params.max_amount)
        return Benefit(
            type=perk_type,
            currency=params.currency,
            waived_amount=quantize(waived, params.currency),
            max_amount=params.max_amount,
        )
    if isinstance(params, FxMarginParams):
        if currency and params.currencies and currency not in params.currencies:
            raise Invalid(
                f"This perk improves rates for {', '.join(params.currencies)}, not {currency}.",
                param="currency",
            )
        return Benefit(
            type=perk_type,
            margin_reduction_bps=params.margin_reduction_bps,
            currencies=params.currencies or None,
        )
    if isinstance(params, AccessPassParams):
        entries = params.entries_per_voucher if uses_remaining is None else uses_remaining
        return Benefit(type=perk_type, entries_remaining=entries, venue=params.venue, kind=params.kind)
    if isinstance(params, FreeItemParams):
        return Benefit(type=perk_type, item=params.item, max_value=params.max_value, currency=params.currency)
    return _discount(perk_type, params, amount, currency)


def _discount(
    perk_type: str, params: DiscountParams, amount: Decimal | None, currency: str | None
) -> Benefit:
    if params.currency:
        _same_currency(currency, params.currency, "gives discounts")
    currency = params.currency or currency
    base = Benefit(type=perk_type, currency=currency, percent=params.percent, min_spend=params.min_spend)
    if amount is None or currency is None:
        return replace(base, discount_amount=params.amount_off)
    if params.min_spend is not None and amount < params.min_spend:
        return replace(base, discount_amount=quantize(Decimal(0), currency), min_spend_met=False)
    if params.amount_off is not None:
        discount = min(params.amount_off, amount)
    else:
        assert params.percent is not None
        discount = amount * params.percent / 100
        if params.max_discount is not None:
            discount = min(discount, params.max_discount)
    met = None if params.min_spend is None else True
    return replace(base, discount_amount=quantize(discount, currency), min_spend_met=met)


def _same_currency(given: str | None, perk_currency: str, what: str) -> None:
    if given and given != perk_currency:
        raise Invalid(
            f"This perk {what} in {perk_currency}; give the amount in {perk_currency}.", param="currency"
        )
