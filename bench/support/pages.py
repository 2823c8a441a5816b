"""Server-rendered pages timed in-process against the floor of their own SQL run bare
(bench/app_pages.py, bench/portal_dashboard.py).

`served_as(user)` gives a test client signed in as `user` with production settings (DEBUG
off, static files by their manifest, collected into a temporary folder). `page_timed` asks
a page many times through Django's whole stack (middleware, session, the view, the
template; the test client's handler, no socket), captures its statements once (with their
parameters, in a transaction rolled back, so what the page writes is not there when they
run again) and replays them on a bare psycopg cursor as many times: p95 of each.
"""

import statistics
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings

from bench.result import stopwatch

Statement = tuple[str, Any, bool]


@contextmanager
def served_as(user: Any) -> Iterator[Client]:
    with tempfile.TemporaryDirectory() as static_root:
        with override_settings(STATIC_ROOT=static_root):
            call_command("collectstatic", "--noinput", verbosity=0)
        with override_settings(DEBUG=False, STATIC_ROOT=static_root, ALLOWED_HOSTS=["testserver"]):
            client = Client()
            client.force_login(user)
            yield client


def page_timed(client: Client, url: str, *, requests: int, warmup: int) -> dict[str, Any]:
    """p95 and median of the page's server time in ms, p95 of its floor, its statements."""
    for _ in range(warmup):
        _get(client, url)
    statements: list[Statement] = []
    with transaction.atomic(), connection.execute_wrapper(_recording(statements)):
        _get(client, url)
        transaction.set_rollback(True)
    timings = []
    for _ in range(requests):
        with stopwatch() as watch:
            _get(client, url)
        timings.append(watch.seconds)
    floors = [_bare(statements) for _ in range(requests)]
    return {
        "p95_ms": round(_p95(timings) * 1000, 2),
        "median_ms": round(statistics.median(timings) * 1000, 2),
        "floor_p95_ms": round(_p95(floors) * 1000, 2),
        "queries": len(statements),
    }


Rows = dict[str, dict[str, Any]]


def slowest_headline(rows: Rows, *, among: Iterable[str] | None = None) -> dict[str, Any]:
    """The slowest page of `rows` (of those named `among`, by default all) as a result's
    headline: its p95 as `value`, its floor's p95 as `floor`, their ratio, and its name."""
    slowest = max(rows if among is None else among, key=lambda name: rows[name]["p95_ms"])
    row = rows[slowest]
    return {
        "slowest": slowest,
        "value": row["p95_ms"],
        "floor": row["floor_p95_ms"],
        "slowdown": row["p95_ms"] / row["floor_p95_ms"],
    }


def _get(client: Client, url: str) -> None:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    # A streamed answer is only served once it is read.
    response.getvalue() if not response.streaming else b"".join(response.streaming_content)  # type: ignore[attr-defined]


def _recording(statements: list[Statement]) -> Any:
    """An execute wrapper keeping each statement the page runs, with its parameters."""

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append((sql, params, many))
        return execute(sql, params, many, context)

    return record


def _bare(statements: list[Statement]) -> float:
    """The page's statements and parameters on a bare psycopg cursor (Django's wrapper,
    converters and models left out), in one transaction rolled back."""
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    with stopwatch() as watch, raw.transaction(force_rollback=True), raw.cursor() as cursor:
        for sql, params, many in statements:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
            if cursor.description is not None:
                cursor.fetchall()
    return watch.seconds


def _p95(timings: list[float]) -> float:
    return statistics.quantiles(timings, n=20, method="inclusive")[-1]
