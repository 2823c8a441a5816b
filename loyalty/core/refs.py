"""Public references: `mem_…`, `prk_…`, never a database id.

A ref is a short prefix naming the kind of object and 20 random Crockford base32
symbols (100 bits), so refs can be shown, logged and typed without revealing how many
objects exist or letting anyone guess a neighbour's.
"""

import secrets

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
REF_LENGTH = 20


def new_ref(prefix: str) -> str:
    body = "".join(secrets.choice(CROCKFORD) for _ in range(REF_LENGTH))
    return f"{prefix}_{body}"


def ref_field_length(prefix: str) -> int:
    return len(prefix) + 1 + REF_LENGTH
