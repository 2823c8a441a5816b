"""What the console handler of settings.LOGGING writes: a voucher code in a path is masked
whichever logger wrote the line, runserver's request lines included, and they still appear."""

import io
import logging
from collections.abc import Iterator

import pytest

CODE = "0123456789ABX"


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the console handler writes while the test runs."""
    handler = next(handler for handler in logging.getLogger().handlers if handler.name == "console")
    assert isinstance(handler, logging.StreamHandler)
    written = io.StringIO()
    previous = handler.setStream(written)
    yield written
    handler.setStream(previous)


def test_any_loggers_line_is_written_masked(console):
    logging.getLogger("perks.somewhere").warning("looked up %s", f"/api/v1/vouchers/{CODE}")

    assert "looked up /api/v1/vouchers/0123…" in console.getvalue()
    assert CODE not in console.getvalue()


def test_runservers_request_lines_are_written_masked(console):
    logging.getLogger("django.server").info(
        '"%s" %s %s', f"GET /api/v1/vouchers/{CODE} HTTP/1.1", "404", "58"
    )

    assert '"GET /api/v1/vouchers/0123… HTTP/1.1" 404 58' in console.getvalue()
    assert CODE not in console.getvalue()
