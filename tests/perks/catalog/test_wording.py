"""A perk in the member's language and in everyday words: perks.catalog.wording."""

import re
from decimal import Decimal

import pytest
from django.utils import formats, translation
from django.utils.translation import gettext, ngettext

from perks.catalog.models import Perk, PerkType
from perks.catalog.money import money_text
from perks.catalog.wording import (
    in_active_language,
    perk_benefit,
    perk_description,
    perk_title,
)

EN, ZH = "en", "zh-hans"


def perk(perk_type: str, **params: object) -> Perk:
    """Wording reads a perk's fields alone: no database needed."""
    return Perk(type=perk_type, params=params, title="Free coffee", title_zh="免费咖啡")


def benefit(language: str, perk_type: str, **params: object) -> str:
    with translation.override(language):
        return perk_benefit(perk(perk_type, **params))


@pytest.mark.parametrize(
    ("language", "title", "description"),
    [(EN, "Free coffee", "Any size, any day."), (ZH, "免费咖啡", "任意杯型，每天可用。")],
)
def test_title_and_description_follow_the_active_language(language, title, description):
    both = Perk(
        title="Free coffee",
        title_zh="免费咖啡",
        description="Any size, any day.",
        description_zh="任意杯型，每天可用。",
    )

    with translation.override(language):
        assert (perk_title(both), perk_description(both)) == (title, description)


@pytest.mark.parametrize("language", [EN, ZH])
def test_a_text_missing_in_one_language_falls_back_to_the_other(language):
    english_only = Perk(title="Free coffee", description="Any size.")
    chinese_only = Perk(title="", title_zh="免费咖啡", description="", description_zh="任意杯型。")

    with translation.override(language):
        assert (perk_title(english_only), perk_description(english_only)) == ("Free coffee", "Any size.")
        assert (perk_title(chinese_only), perk_description(chinese_only)) == ("免费咖啡", "任意杯型。")


def test_with_translation_off_the_default_language_decides():
    with translation.override(None):
        assert in_active_language("Free coffee", "免费咖啡") == "Free coffee"


def test_a_perk_with_no_description_in_either_language_has_none():
    with translation.override(ZH):
        assert perk_description(Perk(title="Free coffee")) == ""


@pytest.mark.parametrize(
    ("amount", "currency", "written"),
    [
        ("5000.00", "CNY", "¥5,000"),
        ("12.50", "USD", "US$12.50"),
        ("1500", "HKD", "HK$1,500"),
        ("30000", "JPY", "JP¥30,000"),
        ("99.99", "EUR", "€99.99"),
        ("20", "GBP", "£20"),
        ("1234567", "KRW", "₩1,234,567"),
        ("2.125", "KWD", "KWD\N{NO-BREAK SPACE}2.125"),
    ],
)
def test_money_reads_as_a_price_tag(amount, currency, written):
    with translation.override(EN):
        assert money_text(Decimal(amount), currency, whole_without_decimals=True) == written


def test_money_is_grouped_as_the_chinese_locale_groups_it():
    with translation.override(ZH):
        grouped = formats.number_format(5000, force_grouping=True)

        assert money_text(Decimal("5000.00"), "CNY", whole_without_decimals=True) == f"¥{grouped}"


# Each type in English, word for word.
@pytest.mark.parametrize(
    ("perk_type", "params", "words"),
    [
        (PerkType.DEPOSIT_WAIVER, {"max_amount": "5000.00", "currency": "CNY"}, "No deposit up to ¥5,000"),
        (PerkType.FX_MARGIN, {"margin_reduction_bps": 50}, "0.5 % better exchange rate"),
        (PerkType.FX_MARGIN, {"margin_reduction_bps": 125}, "1.25 % better exchange rate"),
        (PerkType.FX_MARGIN, {"margin_reduction_bps": 200}, "2 % better exchange rate"),
        (
            PerkType.FX_MARGIN,
            {"margin_reduction_bps": 50, "currencies": ["USD", "EUR"]},
            "0.5 % better exchange rate on EUR, USD",
        ),
        (
            PerkType.ACCESS_PASS,
            {"venue": "PVG T2 lounge", "kind": "lounge", "entries_per_voucher": 1},
            "1 lounge visit at PVG T2 lounge",
        ),
        (
            PerkType.ACCESS_PASS,
            {"venue": "PVG T2 lounge", "kind": "lounge", "entries_per_voucher": 4},
            "4 lounge visits at PVG T2 lounge",
        ),
        (
            PerkType.ACCESS_PASS,
            {"venue": "Central Station", "kind": "waiting_room", "entries_per_voucher": 2},
            "2 waiting room entries at Central Station",
        ),
        (
            PerkType.ACCESS_PASS,
            {"venue": "Riverside Hospital", "kind": "fast_track", "entries_per_voucher": 1},
            "1 fast-track entry at Riverside Hospital",
        ),
        (PerkType.FREE_ITEM, {"item": "Flat white"}, "Free: Flat white"),
        (
            PerkType.FREE_ITEM,
            {"item": "Dessert", "max_value": "45.00", "currency": "CNY"},
            "Free: Dessert, worth up to ¥45",
        ),
        (PerkType.DISCOUNT, {"percent": "15"}, "15 % off"),
        (PerkType.DISCOUNT, {"percent": "12.5"}, "12.5 % off"),
        (
            PerkType.DISCOUNT,
            {"percent": "10", "max_discount": "50.00", "currency": "CNY"},
            "10 % off, up to ¥50 off",
        ),
        (
            PerkType.DISCOUNT,
            {"percent": "10", "min_spend": "200", "currency": "CNY"},
            "10 % off when you spend ¥200 or more",
        ),
        (
            PerkType.DISCOUNT,
            {"percent": "10", "min_spend": "200", "max_discount": "50", "currency": "CNY"},
            "10 % off when you spend ¥200 or more, up to ¥50 off",
        ),
        (PerkType.DISCOUNT, {"amount_off": "20.00", "currency": "USD"}, "US$20 off"),
        (
            PerkType.DISCOUNT,
            {"amount_off": "20.00", "min_spend": "100.00", "currency": "USD"},
            "US$20 off when you spend US$100 or more",
        ),
    ],
)
def test_every_type_of_benefit_in_everyday_english(perk_type, params, words):
    assert benefit(EN, perk_type, **params) == words


def _in_chinese(msgid: str, **values: object) -> str:
    """`msgid` as the Chinese catalogue translates it, filled with `values`."""
    with translation.override(ZH):
        return gettext(msgid) % values


def _in_chinese_counted(singular: str, plural: str, count: int, **values: object) -> str:
    with translation.override(ZH):
        return ngettext(singular, plural, count) % {"count": count, **values}


def test_every_type_of_benefit_reads_from_the_chinese_catalogue():
    """Each phrase is the catalogue's, with numbers and money as the Chinese locale writes them."""
    with translation.override(ZH):
        big = money_text(Decimal("5000"), "CNY", whole_without_decimals=True)
        half = formats.number_format(Decimal("0.5"), decimal_pos=1)

    cases: list[tuple[tuple[str, dict[str, object]], str]] = [
        (
            (PerkType.DEPOSIT_WAIVER, {"max_amount": "5000.00", "currency": "CNY"}),
            _in_chinese("No deposit up to %(amount)s", amount=big),
        ),
        (
            (PerkType.FX_MARGIN, {"margin_reduction_bps": 50}),
            _in_chinese("%(percent)s %% better exchange rate", percent=half),
        ),
        (
            (PerkType.FX_MARGIN, {"margin_reduction_bps": 50, "currencies": ["USD"]}),
            _in_chinese(
                "%(percent)s %% better exchange rate on %(currencies)s", percent=half, currencies="USD"
            ),
        ),
        (
            (PerkType.ACCESS_PASS, {"venue": "PVG T2", "kind": "lounge", "entries_per_voucher": 4}),
            _in_chinese_counted(
                "%(count)s lounge visit at %(venue)s",
                "%(count)s lounge visits at %(venue)s",
                4,
                venue="PVG T2",
            ),
        ),
        (
            (PerkType.ACCESS_PASS, {"venue": "Central", "kind": "waiting_room", "entries_per_voucher": 1}),
            _in_chinese_counted(
                "%(count)s waiting room entry at %(venue)s",
                "%(count)s waiting room entries at %(venue)s",
                1,
                venue="Central",
            ),
        ),
        (
            (PerkType.ACCESS_PASS, {"venue": "Riverside", "kind": "fast_track", "entries_per_voucher": 2}),
            _in_chinese_counted(
                "%(count)s fast-track entry at %(venue)s",
                "%(count)s fast-track entries at %(venue)s",
                2,
                venue="Riverside",
            ),
        ),
        ((PerkType.FREE_ITEM, {"item": "拿铁"}), _in_chinese("Free: %(item)s", item="拿铁")),
        (
            (PerkType.FREE_ITEM, {"item": "拿铁", "max_value": "5000", "currency": "CNY"}),
            _in_chinese("Free: %(item)s, worth up to %(amount)s", item="拿铁", amount=big),
        ),
        ((PerkType.DISCOUNT, {"percent": "15"}), _in_chinese("%(percent)s %% off", percent="15")),
        (
            (PerkType.DISCOUNT, {"amount_off": "5000", "currency": "CNY"}),
            _in_chinese("%(amount)s off", amount=big),
        ),
        (
            (
                PerkType.DISCOUNT,
                {"percent": "15", "max_discount": "5000", "min_spend": "5000", "currency": "CNY"},
            ),
            _in_chinese(
                "%(percent)s %% off when you spend %(min_spend)s or more, up to %(cap)s off",
                percent="15",
                min_spend=big,
                cap=big,
            ),
        ),
    ]
    for (perk_type, params), words in cases:
        assert benefit(ZH, perk_type, **params) == words, (perk_type, params)


def test_a_perk_whose_stored_params_no_longer_parse_still_says_what_kind_it_is():
    with translation.override(EN):
        assert perk_benefit(perk(PerkType.DEPOSIT_WAIVER, currency="CNY")) == "Deposit waived"


CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize(
    ("perk_type", "params"),
    [
        (PerkType.DEPOSIT_WAIVER, {"max_amount": "5000.00", "currency": "CNY"}),
        (PerkType.FX_MARGIN, {"margin_reduction_bps": 50}),
        (PerkType.ACCESS_PASS, {"venue": "PVG T2", "kind": "lounge", "entries_per_voucher": 4}),
        (PerkType.ACCESS_PASS, {"venue": "Central", "kind": "waiting_room", "entries_per_voucher": 1}),
        (PerkType.ACCESS_PASS, {"venue": "Riverside", "kind": "fast_track", "entries_per_voucher": 1}),
        (PerkType.FREE_ITEM, {"item": "Flat white"}),
        (PerkType.DISCOUNT, {"percent": "15"}),
        (PerkType.DISCOUNT, {"amount_off": "20", "min_spend": "100", "currency": "CNY"}),
    ],
)
def test_every_type_of_benefit_is_worded_in_chinese(perk_type, params):
    """The catalogue has each phrase: a Chinese reader never gets the English one."""
    chinese = benefit(ZH, perk_type, **params)

    assert chinese != benefit(EN, perk_type, **params)
    assert CJK.search(chinese), chinese
