"""Public references: `mem_…`, `prk_…`, never a database id.

A ref is a short prefix naming the kind of object and 20 random Crockford base32
symbols (100 bits), so refs can be shown, logged and typed without revealing how many
objects exist or letting anyone guess a neighbour's.
"""

import base64
import secrets

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
REF_LENGTH = 20

# base32 gives 5 random bits a symbol; renaming RFC 4648's alphabet to Crockford's keeps
# them uniform, and is far faster than drawing symbol by symbol when millions are needed.
_RFC4648_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD)
_RANDOM_BYTES = REF_LENGTH * 5 // 8 + 1


def new_ref(prefix: str) -> str:
    return new_refs(prefix, 1)[0]


def new_refs(prefix: str, count: int) -> list[str]:
    return [f"{prefix}_{_random_body()}" for _ in range(count)]


def _random_body() -> str:
    return (
        base64.b32encode(secrets.token_bytes(_RANDOM_BYTES))
        .decode()[:REF_LENGTH]
        .translate(_RFC4648_TO_CROCKFORD)
    )


def ref_field_length(prefix: str) -> int:
    return len(prefix) + 1 + REF_LENGTH
