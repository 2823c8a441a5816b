import re
import secrets

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from loyalty.core.errors import NotFound
from perks.vouchers.codes import (
    CHECK_SYMBOLS,
    SYMBOLS,
    CodeShape,
    UnknownCode,
    check_symbol,
    code_format,
    code_generate,
    code_normalize,
    code_shape,
    codes_generate,
)

VALUES = st.integers(min_value=0, max_value=2**60 - 1)
DISPLAYED = re.compile(
    r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z*~$=U]$"
)


def code_of(value: int) -> str:
    data = "".join(SYMBOLS[(value >> shift) & 31] for shift in range(55, -1, -5))
    return data + check_symbol(data)


def test_a_new_code_is_shown_in_four_groups_and_reads_back():
    code = code_generate()

    assert DISPLAYED.match(code_format(code))
    assert code_normalize(code_format(code)) == code


def test_the_check_symbol_is_the_value_mod_37():
    assert check_symbol("000000000000") == "0"
    assert check_symbol("000000000010") == "*"  # 32
    assert check_symbol("000000000011") == "~"  # 33
    assert check_symbol("000000000014") == "U"  # 36 = 32 + 4
    assert code_of(37 * 1234567) == code_of(37 * 1234567)[:12] + "0"


@given(VALUES)
def test_round_trip_through_the_display_form(value):
    code = code_of(value)

    assert code_normalize(code_format(code)) == code
    assert code_normalize(code_format(code).lower()) == code
    assert code_normalize(" ".join(code)) == code


@given(VALUES)
def test_crockfords_look_alikes_are_read_as_digits(value):
    code = code_of(value)
    typed = code.replace("1", "l").replace("0", "O")

    assert code_normalize(typed) == code
    assert code_normalize(code.replace("1", "I").lower()) == code


@given(VALUES, st.integers(min_value=0, max_value=12), st.sampled_from(CHECK_SYMBOLS + "ILO"))
def test_any_single_substituted_symbol_is_caught(value, position, symbol):
    code = code_of(value)
    typo = code[:position] + symbol + code[position + 1 :]
    assume(typo.translate(str.maketrans("ILO", "110")) != code)

    with pytest.raises(UnknownCode):
        code_normalize(typo)


@given(VALUES, st.integers(min_value=0, max_value=11))
def test_any_two_swapped_neighbours_are_caught(value, position):
    code = code_of(value)
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
    assume(swapped != code)

    with pytest.raises(UnknownCode):
        code_normalize(swapped)


@pytest.mark.parametrize(
    "raw",
    ["", "ABCD-EFGH-JKMN", "ABCD-EFGH-JKMN-PQ", "ABCD-EFGH-JKMN-!", "ABCU-EFGH-JKMN-P", None],
)
def test_what_cannot_be_a_code_is_not_found_before_any_query(raw):
    # No database access is allowed in this test: a query would fail it.
    with pytest.raises(NotFound) as refused:
        code_normalize(raw)

    assert refused.value.code == "not_found"
    assert refused.value.param == "code"


def test_many_codes_at_once_are_distinct_and_valid():
    codes = codes_generate(20_001)

    assert len(codes) == len(set(codes)) == 20_001
    assert all(code_normalize(code) == code for code in codes)


def test_bulk_codes_use_every_symbol_in_every_position():
    codes = codes_generate(5000)

    for position in range(12):
        assert {code[position] for code in codes} == set(SYMBOLS)


def test_equal_draws_are_replaced_until_the_batch_is_distinct(monkeypatch):
    real = secrets.token_bytes
    draws = iter([lambda n: bytes(n)])  # the first draw: every code the same
    monkeypatch.setattr(secrets, "token_bytes", lambda n: next(draws, real)(n))

    codes = codes_generate(6)

    assert len(set(codes)) == 6
    assert "0000000000000" in codes
    assert all(code_normalize(code) == code for code in codes)


@pytest.mark.parametrize(
    ("raw", "shape"),
    [
        ("", CodeShape.EMPTY),
        (" - ", CodeShape.EMPTY),
        (None, CodeShape.EMPTY),
        ("hello", CodeShape.MALFORMED),
        ("ABCD-EFGH-JKMN", CodeShape.MALFORMED),  # the check symbol left out
        ("ABCD-EFGH-JKMN-PQ", CodeShape.MALFORMED),
        ("ABCD-EFGH-JKMN-!", CodeShape.MALFORMED),
        ("ABCU-EFGH-JKMN-P", CodeShape.MALFORMED),  # U is a check symbol only
    ],
)
def test_the_shape_of_what_is_no_code_is_told_apart(raw, shape):
    assert code_shape(raw) == shape


@given(VALUES, st.integers(min_value=0, max_value=12), st.sampled_from(SYMBOLS))
def test_a_mistyped_code_has_a_bad_check_and_a_good_one_is_well_formed(value, position, symbol):
    code = code_of(value)
    typo = code[:position] + symbol + code[position + 1 :]
    assume(typo != code)

    assert code_shape(code_format(code).lower()) == CodeShape.WELL_FORMED
    assert code_shape(typo) == CodeShape.BAD_CHECK
