"""Public references: `mem_…`, `prk_…`, never a database id.

A ref is a short prefix naming the kind of object and 20 random Crockford base32
symbols (100 bits), so refs can be shown, logged and typed without revealing how many
objects exist or letting anyone guess a neighbour's.
"""

import base64
import secrets
from functools import partial

from django.db import models

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
REF_LENGTH = 20

# base32 gives 5 random bits a symbol; renaming RFC 4648's alphabet to Crockford's keeps
# them uniform. Encoding one buffer for many refs is what makes a million take a second.
_RFC4648_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD)
_BYTES_PER_REF = 15  # 120 bits: 24 whole symbols, of which a ref uses the first 20
_SYMBOLS_PER_REF = _BYTES_PER_REF * 8 // 5


def new_ref(prefix: str) -> str:
    return new_refs(prefix, 1)[0]


def new_refs(prefix: str, count: int) -> list[str]:
    symbols = (
        base64.b32encode(secrets.token_bytes(_BYTES_PER_REF * count))
        .decode()
        .translate(_RFC4648_TO_CROCKFORD)
    )
    return [
        f"{prefix}_{symbols[start : start + REF_LENGTH]}"
        for start in range(0, len(symbols), _SYMBOLS_PER_REF)
    ]


def ref_field_length(prefix: str) -> int:
    return len(prefix) + 1 + REF_LENGTH


def ref_field(prefix: str) -> models.CharField:
    """The model field of a public ref: set once when the row is made, never edited, and
    unique by the model's `unique_text("ref")` constraint (loyalty.core.constraints)."""
    return models.CharField(
        max_length=ref_field_length(prefix), editable=False, default=partial(new_ref, prefix)
    )
