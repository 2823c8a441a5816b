"""JSON bodies as the contract takes them: UTF-8, strict, and text the database can store.

DRF's own parser honours any declared charset, lets NaN through unless told, and lets a
deeply nested body or a `\\u0000` reach the database, where they become 500s. Here they
are 400s, before a view sees them.
"""

import json
from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser

# Deeper than any body of the contract, shallow enough that nothing downstream recurses far.
MAX_DEPTH = 32


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def json_parse(raw: bytes) -> Any:
    """The document in `raw`, or ParseError (malformed) / ValidationError (text it cannot keep)."""
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"The body is not valid UTF-8 JSON: {exc}") from None
    _check_text(document)
    return document


def _check_text(document: Any) -> None:
    """Walk the document without recursion; refuse deep nesting and unstorable strings."""
    pending: list[tuple[Any, str, int]] = [(document, "", 0)]
    while pending:
        value, path, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise ParseError(f"The body is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(value, str):
            _check_string(value, path)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                _check_string(key, child)
                pending.append((item, child, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))


def _check_string(text: str, path: str) -> None:
    if "\x00" in text:
        raise ValidationError({path or "body": ["Text may not contain the NUL character (\\u0000)."]})
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError({path or "body": ["Text may not contain unpaired surrogates."]}) from None


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        return json_parse(stream.read() if stream is not None else b"")
