"""The app's dates, points and money in English and in Chinese (surfaces/app/templatetags/app_format.py)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from surfaces.app.templatetags.app_format import day, moment, money, points

NBSP = "\N{NO-BREAK SPACE}"
# 06:30 UTC is 14:30 in Shanghai (TIME_ZONE), on the same day; 17:00 UTC is the next day there.
AFTERNOON = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)
LATE_EVENING_UTC = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("language", "value", "written"),
    [
        ("en", date(2026, 12, 7), "7 Dec 2026"),
        ("zh-hans", date(2026, 12, 7), "2026年12月7日"),
        ("en", date(2026, 5, 31), "31 May 2026"),
        ("zh-hans", date(2026, 5, 31), "2026年5月31日"),
        ("en", LATE_EVENING_UTC, "8 Dec 2026"),
        ("zh-hans", LATE_EVENING_UTC, "2026年12月8日"),
        ("en", None, ""),
        ("zh-hans", "", ""),
    ],
)
def test_day_is_written_as_the_language_writes_a_date_in_the_local_time_zone(language, value, written):
    with translation.override(language):
        assert day(value) == written


@pytest.mark.parametrize(
    ("language", "value", "written"),
    [
        ("en", AFTERNOON, "7 Dec 2026, 14:30"),
        ("zh-hans", AFTERNOON, "2026年12月7日 14:30"),
        ("en", LATE_EVENING_UTC, "8 Dec 2026, 01:00"),
        ("zh-hans", LATE_EVENING_UTC, "2026年12月8日 01:00"),
        ("en", None, ""),
    ],
)
def test_moment_is_a_day_and_a_24_hour_time(language, value, written):
    with translation.override(language):
        assert moment(value) == written


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize(
    ("value", "written"), [(0, "0"), (950, "950"), (1000, "1,000"), (12345, "12,345"), (-2500, "-2,500")]
)
def test_points_are_grouped_in_thousands_in_both_languages(language, value, written):
    with translation.override(language):
        assert points(value) == written


def test_no_points_is_written_as_nothing():
    assert points(None) == ""


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize(
    ("amount", "currency", "written"),
    [
        (Decimal("5000"), "CNY", "¥5,000.00"),
        (Decimal("1234567.5"), "cny", "¥1,234,567.50"),
        (Decimal("-12.5"), "USD", "-US$12.50"),
        (Decimal("0.005"), "HKD", "HK$0.01"),
        (Decimal("-0.004"), "EUR", "€0.00"),
        (1500, "JPY", "JP¥1,500"),
        ("3", "CHF", f"CHF{NBSP}3.00"),
        (Decimal("42"), "", "42.00"),
    ],
)
def test_money_carries_its_currency_symbol_and_grouping(language, amount, currency, written):
    with translation.override(language):
        assert money(amount, currency) == written


def test_no_amount_is_written_as_nothing():
    assert money(None, "CNY") == ""


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_no_time_of_day_ends_in_a_full_stop_that_a_sentence_would_double(language):
    """Django's English "P" format wrote "p.m.", doubled by a sentence's own full stop;
    every date and time format of both languages now ends in a digit or 日."""
    evening = datetime(2026, 12, 7, 12, 15, tzinfo=UTC)  # 20:15 in Shanghai
    sentence = Template(
        '{% load i18n %}{% blocktranslate with when=when|date:"DATETIME_FORMAT" %}Valid until {{ when }}.'
        "{% endblocktranslate %} {{ when|time }}. {{ when|date:'SHORT_DATETIME_FORMAT' }}. {{ when|date }}."
    )
    with translation.override(language):
        written = sentence.render(Context({"when": evening}))
    assert ".." not in written
    assert "m." not in written  # neither a.m. nor p.m.
    assert "20:15" in written


@pytest.mark.parametrize(("language", "written"), [("en", "7 Dec 2026"), ("zh-hans", "2026年12月7日")])
def test_the_short_date_is_the_same_unambiguous_date(language, written):
    with translation.override(language):
        rendered = Template("{{ d|date:'SHORT_DATE_FORMAT' }}|{{ d|date }}").render(
            Context({"d": date(2026, 12, 7)})
        )
    assert rendered == f"{written}|{written}"


@pytest.mark.parametrize(
    ("language", "written"),
    [("en", "12,345 · ¥5,000.00 · 7 Dec 2026"), ("zh-hans", "12,345 · ¥5,000.00 · 2026年12月7日")],
)
def test_the_filters_in_a_template(language, written):
    template = Template("{% load app_format %}{{ n|points }} · {{ a|money:c }} · {{ d|day }}")
    with translation.override(language):
        rendered = template.render(
            Context({"n": 12345, "a": Decimal("5000"), "c": "CNY", "d": date(2026, 12, 7)})
        )
    assert rendered == written
