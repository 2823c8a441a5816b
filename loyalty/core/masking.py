"""Voucher codes kept out of log lines: where a logged path carries one, it is masked.

A voucher code is a bearer secret (whoever reads it can redeem it), and the partner API's
`GET /api/v1/vouchers/{code}` puts one in the path, which Django's request log (each 4xx
and 5xx) and gunicorn's access log would write in full. Both mask it here, the same way:
the first symbols stay, enough to match a line to a partner's complaint, far too few to
redeem. Plain Python, no Django: gunicorn's master imports this before any settings.
"""

import logging
import re

SHOWN = 4
ELLIPSIS = "…"
# The segment after /api/v1/vouchers/: a code, in whatever spelling the partner sent.
_CODE_IN_PATH = re.compile(r"(/api/v1/vouchers/)([^/?#\s'\"]+)")
_HINT = "/vouchers/"


def mask(secret: str) -> str:
    """`secret` cut to its first few symbols; masking a masked value changes nothing."""
    return secret[:SHOWN] + ELLIPSIS


def mask_paths(text: str) -> str:
    """`text` with the voucher code of every partner API voucher path in it masked."""
    if _HINT not in text:  # nearly every line: no regex
        return text
    return _CODE_IN_PATH.sub(lambda found: found[1] + mask(found[2]), text)


class MaskedPathFilter(logging.Filter):
    """Masks the codes in a record's message before any handler writes it.

    Set on the loggers that write request paths (`django.request`, `django.server`), it
    changes the record itself, so every handler and the tests' capture see the masked
    line; set on a handler, it covers whatever other logger writes such a path.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a malformed call: the handler reports it as logging always does
        masked = mask_paths(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True
