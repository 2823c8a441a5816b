from decimal import Decimal

import pytest

from loyalty.core.errors import Invalid
from perks.catalog.params import (
    AccessPassParams,
    DepositWaiverParams,
    DiscountParams,
    FreeItemParams,
    FxMarginParams,
    params_as_json,
    params_parse,
)


@pytest.mark.parametrize(
    ("perk_type", "raw", "expected"),
    [
        (
            "deposit_waiver",
            {"max_amount": "5000.00", "currency": "cny"},
            DepositWaiverParams(max_amount=Decimal("5000.00"), currency="CNY"),
        ),
        (
            "fx_margin",
            {"margin_reduction_bps": 50, "currencies": ["usd", "EUR", "USD"]},
            FxMarginParams(margin_reduction_bps=50, currencies=("EUR", "USD")),
        ),
        (
            "access_pass",
            {"venue": "PVG T2 lounge", "kind": "lounge", "entries_per_voucher": 4},
            AccessPassParams(venue="PVG T2 lounge", kind="lounge", entries_per_voucher=4),
        ),
        ("free_item", {"item": "Flat white"}, FreeItemParams(item="Flat white")),
        (
            "discount",
            {"percent": "15", "currency": "CNY", "min_spend": "100", "max_discount": "50"},
            DiscountParams(
                percent=Decimal("15"),
                currency="CNY",
                min_spend=Decimal("100.00"),
                max_discount=Decimal("50.00"),
            ),
        ),
        (
            "discount",
            {"amount_off": "20.00", "currency": "CNY"},
            DiscountParams(amount_off=Decimal("20.00"), currency="CNY"),
        ),
    ],
)
def test_each_type_parses_into_its_typed_parameters(perk_type, raw, expected):
    params = params_parse(perk_type, raw)

    assert params == expected
    assert params_parse(perk_type, params_as_json(params)) == expected


def test_amounts_are_stored_as_decimal_strings():
    stored = params_as_json(params_parse("deposit_waiver", {"max_amount": "5000", "currency": "CNY"}))

    assert stored == {"max_amount": "5000.00", "currency": "CNY"}


@pytest.mark.parametrize(
    ("perk_type", "raw", "param"),
    [
        ("deposit_waiver", {"currency": "CNY"}, "params.max_amount"),
        ("deposit_waiver", {"max_amount": "5000"}, "params.currency"),
        ("deposit_waiver", {"max_amount": 5000.5, "currency": "CNY"}, "params.max_amount"),
        ("deposit_waiver", {"max_amount": "50.001", "currency": "CNY"}, "params.max_amount"),
        ("deposit_waiver", {"max_amount": "500.5", "currency": "JPY"}, "params.max_amount"),
        ("deposit_waiver", {"max_amount": "-1", "currency": "CNY"}, "params.max_amount"),
        ("deposit_waiver", {"max_amount": "0", "currency": "CNY"}, "params.max_amount"),
        ("deposit_waiver", {"max_amount": "NaN", "currency": "CNY"}, "params.max_amount"),
        ("deposit_waiver", {"max_amount": "100", "currency": "XAU"}, "params.currency"),
        ("deposit_waiver", {"max_amount": "100", "currency": "RMB"}, "params.currency"),
        ("deposit_waiver", {"max_amount": "100", "currency": "CNY", "waive": True}, "params.waive"),
        ("fx_margin", {"margin_reduction_bps": "50"}, "params.margin_reduction_bps"),
        ("fx_margin", {"margin_reduction_bps": 0}, "params.margin_reduction_bps"),
        ("fx_margin", {"margin_reduction_bps": True}, "params.margin_reduction_bps"),
        ("fx_margin", {"margin_reduction_bps": 50, "currencies": "USD"}, "params.currencies"),
        ("access_pass", {"venue": "T2", "kind": "spa", "entries_per_voucher": 1}, "params.kind"),
        ("access_pass", {"venue": "", "kind": "lounge", "entries_per_voucher": 1}, "params.venue"),
        (
            "access_pass",
            {"venue": "T2", "kind": "lounge", "entries_per_voucher": 0},
            "params.entries_per_voucher",
        ),
        ("free_item", {}, "params.item"),
        ("free_item", {"item": "Cake", "max_value": "30"}, "params.currency"),
        ("discount", {}, "params.percent"),
        ("discount", {"percent": "10", "amount_off": "5", "currency": "CNY"}, "params.percent"),
        ("discount", {"percent": "120"}, "params.percent"),
        ("discount", {"percent": "12.345"}, "params.percent"),
        ("discount", {"amount_off": "5"}, "params.currency"),
        ("discount", {"amount_off": "5", "currency": "CNY", "max_discount": "4"}, "params.max_discount"),
    ],
)
def test_a_bad_parameter_is_refused_by_name(perk_type, raw, param):
    with pytest.raises(Invalid) as refused:
        params_parse(perk_type, raw)

    assert refused.value.param == param


def test_params_must_be_an_object_of_a_known_type():
    with pytest.raises(Invalid) as not_object:
        params_parse("free_item", ["coffee"])
    assert not_object.value.param == "params"
    with pytest.raises(Invalid) as unknown_type:
        params_parse("cashback", {})
    assert unknown_type.value.param == "type"
