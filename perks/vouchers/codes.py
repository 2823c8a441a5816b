"""Voucher codes: 12 Crockford base32 symbols (60 random bits) and a check symbol.

Shown `XXXX-XXXX-XXXX-C`, stored as the 13 symbols without hyphens. The check symbol is
Crockford's: the 60-bit value mod 37, written with the 32 symbols and `*~$=U`. Because
37 is prime and larger than the alphabet, any one mistyped symbol, and any two
neighbours swapped, change the remainder, so a typo is refused here, before any query.
Input is read as Crockford says: case ignored, hyphens and spaces dropped, I and L read
as 1, O as 0.
"""

import base64
import secrets
from enum import StrEnum

from loyalty.core.errors import NotFound

SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_SYMBOLS = SYMBOLS + "*~$=U"
DATA_LENGTH = 12
CODE_LENGTH = DATA_LENGTH + 1
GROUP = 4

_VALUE = {symbol: value for value, symbol in enumerate(SYMBOLS)}
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None, " ": None})
# base64.b32encode writes RFC 4648 symbols; these tables rewrite them as Crockford's, and
# as the digits int(…, 32) reads, without a Python loop over symbols.
_RFC4648 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_INT_DIGITS = "0123456789abcdefghijklmnopqrstuv"
_TO_CROCKFORD = str.maketrans(_RFC4648, SYMBOLS)
_TO_INT_DIGITS = str.maketrans(_RFC4648, _INT_DIGITS)
_CROCKFORD_TO_INT_DIGITS = str.maketrans(SYMBOLS, _INT_DIGITS)
_BYTES_PER_PAIR = 15  # two codes' 120 bits encode to exactly 24 symbols


class UnknownCode(NotFound):
    """A code that cannot exist is, to a caller, a voucher that does not exist."""

    default_message = "No voucher has this code; check it for typos."


class CodeShape(StrEnum):
    """What typed text is as a code, before any query. The partner API answers all but
    a well-formed code alike (`not_found`); a person at a till is told which it was."""

    EMPTY = "code_empty"
    MALFORMED = "code_malformed"  # not 13 symbols of the alphabets: a word, a phone number
    BAD_CHECK = "code_bad_check"  # a code's shape whose check symbol disagrees: a typo
    WELL_FORMED = "code_well_formed"


def check_symbol(data: str) -> str:
    return CHECK_SYMBOLS[int(data.translate(_CROCKFORD_TO_INT_DIGITS), 32) % 37]


def code_generate() -> str:
    """One new code, canonical (13 symbols, no hyphens), from the OS's CSPRNG."""
    value = secrets.randbits(5 * DATA_LENGTH)
    data = "".join(SYMBOLS[(value >> shift) & 31] for shift in range(5 * (DATA_LENGTH - 1), -1, -5))
    return data + check_symbol(data)


def codes_generate(count: int) -> list[str]:
    """`count` distinct new codes at once (a campaign's worth), canonical, fast.

    The random bytes are encoded by base64's C code, two codes to every 15 bytes, and the
    check symbols come from int()'s C parser, so the only Python loop is one expression a
    code. Distinct within the batch; uniqueness across batches is the database's index.
    """
    codes = _draw(count)
    if len(set(codes)) == count:
        return codes
    distinct = dict.fromkeys(codes)  # two equal 60-bit draws: about once in two million batches
    while len(distinct) < count:
        distinct.update(dict.fromkeys(_draw(count - len(distinct))))
    return list(distinct)


def _draw(count: int) -> list[str]:
    pairs = (count + 1) // 2
    encoded = base64.b32encode(secrets.token_bytes(pairs * _BYTES_PER_PAIR)).decode("ascii")
    digits, symbols = encoded.translate(_TO_INT_DIGITS), encoded.translate(_TO_CROCKFORD)
    return [
        symbols[start : start + DATA_LENGTH]
        + CHECK_SYMBOLS[int(digits[start : start + DATA_LENGTH], 32) % 37]
        for start in range(0, count * DATA_LENGTH, DATA_LENGTH)
    ]


def code_normalize(raw: str) -> str:
    """The canonical code `raw` denotes, or UnknownCode if no code could be written so."""
    cleaned = _cleaned(raw)
    if _shape(cleaned) is not CodeShape.WELL_FORMED:
        raise UnknownCode(param="code")
    return cleaned


def code_shape(raw: str) -> CodeShape:
    """Whether `raw`, read as `code_normalize` reads it, is empty, no code at all, a code
    with a wrong check symbol, or well formed (which says nothing of whether it exists)."""
    return _shape(_cleaned(raw))


def _cleaned(raw: str) -> str:
    return "".join(str(raw or "").split()).upper().translate(_READ_AS)


def _shape(cleaned: str) -> CodeShape:
    if not cleaned:
        return CodeShape.EMPTY
    data, check = cleaned[:DATA_LENGTH], cleaned[DATA_LENGTH:]
    if len(cleaned) != CODE_LENGTH or check not in CHECK_SYMBOLS or any(s not in _VALUE for s in data):
        return CodeShape.MALFORMED
    if check_symbol(data) != check:
        return CodeShape.BAD_CHECK
    return CodeShape.WELL_FORMED


def code_format(code: str) -> str:
    """`XXXX-XXXX-XXXX-C` for people to read and type."""
    groups = [code[i : i + GROUP] for i in range(0, DATA_LENGTH, GROUP)]
    return "-".join([*groups, code[DATA_LENGTH:]])
