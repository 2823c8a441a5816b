"""What the sql.py comparison tests share: the statements a block ran, and whether one of
them is a given written-out statement."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

from loyalty.core.sql import Statement


@contextmanager
def executed() -> Iterator[list[str]]:
    """The text of every statement run on this connection in the block."""
    texts: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        texts.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield texts


def ran(statement: Statement, texts: list[str]) -> bool:
    """Whether one of `texts` is `statement`, its fields (`{name}`) filled in any way."""
    pattern = re.sub(r"\\\{\w+\\\}", ".*", re.escape(statement.sql))
    return any(re.search(pattern, text, re.DOTALL) for text in texts)
