from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty.core.errors import Invalid
from perks.catalog.models import Perk, PerkType
from perks.catalog.money import decimals
from perks.catalog.perk_benefit import benefit_compute


def perk(perk_type: str, **params) -> Perk:
    """Benefits are computed from a perk's type and params alone: no database needed."""
    return Perk(type=perk_type, params=params)


WAIVER = perk(PerkType.DEPOSIT_WAIVER, max_amount="5000.00", currency="CNY")


def test_a_deposit_is_waived_up_to_the_cap():
    assert benefit_compute(perk=WAIVER, amount="3200.00", currency="CNY").waived_amount == Decimal("3200.00")
    assert benefit_compute(perk=WAIVER, amount="8000", currency="cny").waived_amount == Decimal("5000.00")


def test_without_an_amount_the_waiver_shows_its_cap():
    benefit = benefit_compute(perk=WAIVER)

    assert benefit.as_dict() == {
        "type": "deposit_waiver",
        "currency": "CNY",
        "waived_amount": "5000.00",
        "max_amount": "5000.00",
    }


def test_a_deposit_in_another_currency_is_refused_clearly():
    with pytest.raises(Invalid, match="in CNY") as refused:
        benefit_compute(perk=WAIVER, amount="100.00", currency="USD")

    assert refused.value.param == "currency"


@pytest.mark.parametrize(
    ("amount", "currency", "param"),
    [
        ("100.00", None, "currency"),
        ("100.001", "CNY", "amount"),
        ("-5", "CNY", "amount"),
        ("lots", "CNY", "amount"),
        (100.0, "CNY", "amount"),
        ("100", "ZZZ", "currency"),
    ],
)
def test_bad_amounts_and_currencies_are_refused_by_name(amount, currency, param):
    with pytest.raises(Invalid) as refused:
        benefit_compute(perk=WAIVER, amount=amount, currency=currency)

    assert refused.value.param == param


def test_amounts_follow_the_currencys_minor_unit():
    yen = perk(PerkType.DEPOSIT_WAIVER, max_amount="50000", currency="JPY")
    dinar = perk(PerkType.DEPOSIT_WAIVER, max_amount="100.000", currency="KWD")

    assert str(benefit_compute(perk=yen, amount="12000", currency="JPY").waived_amount) == "12000"
    assert str(benefit_compute(perk=dinar, amount="20.125", currency="KWD").waived_amount) == "20.125"
    with pytest.raises(Invalid):
        benefit_compute(perk=yen, amount="12000.50", currency="JPY")


def test_an_fx_perk_gives_its_basis_points_for_its_currencies():
    fx = perk(PerkType.FX_MARGIN, margin_reduction_bps=50, currencies=["USD", "EUR"])

    assert benefit_compute(perk=fx, currency="USD").as_dict() == {
        "type": "fx_margin",
        "margin_reduction_bps": 50,
        "currencies": ["EUR", "USD"],
    }
    with pytest.raises(Invalid, match="not JPY"):
        benefit_compute(perk=fx, currency="JPY")
    assert (
        benefit_compute(perk=perk(PerkType.FX_MARGIN, margin_reduction_bps=30), currency="JPY").currencies
        is None
    )


def test_an_access_pass_counts_the_entries_left():
    lounge = perk(PerkType.ACCESS_PASS, venue="PVG T2", kind="lounge", entries_per_voucher=4)

    assert benefit_compute(perk=lounge).entries_remaining == 4
    assert benefit_compute(perk=lounge, uses_remaining=1).as_dict() == {
        "type": "access_pass",
        "entries_remaining": 1,
        "venue": "PVG T2",
        "kind": "lounge",
    }


def test_a_free_item_names_the_item():
    assert benefit_compute(perk=perk(PerkType.FREE_ITEM, item="Flat white")).as_dict() == {
        "type": "free_item",
        "item": "Flat white",
    }


def test_a_percent_discount_rounds_half_up_and_respects_its_cap_and_minimum_spend():
    discount = perk(PerkType.DISCOUNT, percent="15", currency="CNY", min_spend="100.00", max_discount="50.00")

    assert benefit_compute(perk=discount, amount="123.30", currency="CNY").discount_amount == Decimal("18.50")
    assert benefit_compute(perk=discount, amount="1000.00", currency="CNY").discount_amount == Decimal(
        "50.00"
    )
    below = benefit_compute(perk=discount, amount="99.99", currency="CNY")
    assert (below.discount_amount, below.min_spend_met) == (Decimal("0.00"), False)


def test_an_amount_off_never_exceeds_the_spend():
    discount = perk(PerkType.DISCOUNT, amount_off="20.00", currency="CNY")

    assert benefit_compute(perk=discount).discount_amount == Decimal("20.00")
    assert benefit_compute(perk=discount, amount="12.00", currency="CNY").discount_amount == Decimal("12.00")


def test_a_percent_discount_without_a_currency_works_in_the_spends():
    discount = perk(PerkType.DISCOUNT, percent="10")

    assert benefit_compute(perk=discount, amount="1999", currency="JPY").discount_amount == Decimal("200")
    assert benefit_compute(perk=discount).discount_amount is None


CURRENCIES = st.sampled_from(["CNY", "USD", "JPY", "KWD", "EUR"])


def amounts(currency: str):
    places = decimals(currency)
    return st.decimals(min_value=0, max_value=10**7, places=places, allow_nan=False, allow_infinity=False)


@given(data=st.data(), currency=CURRENCIES)
def test_a_waiver_never_waives_more_than_the_deposit_or_the_cap(data, currency):
    cap = data.draw(amounts(currency).filter(lambda a: a > 0))
    deposit = data.draw(amounts(currency))
    waiver = perk(PerkType.DEPOSIT_WAIVER, max_amount=str(cap), currency=currency)

    waived = benefit_compute(perk=waiver, amount=str(deposit), currency=currency).waived_amount

    assert waived is not None
    assert waived == min(deposit, cap)
    assert waived.as_tuple().exponent == -decimals(currency)


@given(data=st.data(), currency=CURRENCIES, percent=st.integers(min_value=1, max_value=100))
def test_a_discount_is_never_more_than_the_spend_and_is_exact_in_the_currency(data, currency, percent):
    spend = data.draw(amounts(currency))
    discount = perk(PerkType.DISCOUNT, percent=str(percent))

    amount = benefit_compute(perk=discount, amount=str(spend), currency=currency).discount_amount

    assert amount is not None
    assert Decimal(0) <= amount <= spend
    assert amount.as_tuple().exponent == -decimals(currency)
    assert abs(amount - spend * percent / 100) <= Decimal(1).scaleb(-decimals(currency)) / 2
