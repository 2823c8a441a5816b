"""Voucher codes in logged paths are masked, by one helper that Django's request log and
gunicorn's access log share; nothing else in a line changes."""

import logging

import pytest

from loyalty.core.masking import MaskedPathFilter, mask, mask_paths
from perks.vouchers.codes import code_format

CODE = "0123456789ABX"


def test_a_code_keeps_its_first_symbols_only():
    assert mask(CODE) == "0123…"
    assert mask(mask(CODE)) == mask(CODE)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"/api/v1/vouchers/{CODE}", "/api/v1/vouchers/0123…"),
        (
            f"GET /api/v1/vouchers/{code_format(CODE)}?expand=perk HTTP/1.1",
            "GET /api/v1/vouchers/0123…?expand=perk HTTP/1.1",
        ),
        (
            f"<WSGIRequest: GET '/api/v1/vouchers/{CODE.lower()}'>",
            "<WSGIRequest: GET '/api/v1/vouchers/0123…'>",
        ),
        ("POST /api/v1/vouchers HTTP/1.1", "POST /api/v1/vouchers HTTP/1.1"),
        ("GET /app/wallet/42/ HTTP/1.1", "GET /app/wallet/42/ HTTP/1.1"),
    ],
)
def test_paths_that_name_a_voucher_by_code_are_masked_and_no_other(text, masked):
    assert mask_paths(text) == masked


def test_the_filter_rewrites_the_record_every_handler_sees():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", (f"/api/v1/vouchers/{CODE}",), None
    )

    assert MaskedPathFilter().filter(record)

    assert record.getMessage() == "Not Found: /api/v1/vouchers/0123…"


def test_a_malformed_call_is_left_for_the_handler_to_report():
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "%s and %s", ("one",), None)

    assert MaskedPathFilter().filter(record)
    assert record.args == ("one",)
