"""An existing database upgrades with `migrate` alone.

The fixtures are dumps of databases made at the commit before the project moved to
config/ and surfaces/ (fcf7747: every migration of that day applied, then `seed_demo`).
Restored, they must migrate forward with nothing to apply that rewrites a row: every
table they held keeps exactly its rows, so app labels, table names and migration names
have to stay as they were. Later migrations may add tables and columns; the columns the old
database had keep their values.
"""

import gzip
import hashlib
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.db.backends.sqlite3._functions import register as register_django_functions  # type: ignore[import-untyped]
from django.db.migrations.loader import MigrationLoader

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
# Tables whose rows a later migration is meant to change, with the migration that does.
CHANGED_ON_PURPOSE: dict[str, str] = {}
# Tables a migration makes for the database's own use, which no model owns.
MIGRATION_TABLES = {"points_ledger_pending"}  # loyalty/points/migrations/0002_ledger_integrity.py
HISTORY = "django_migrations"  # gains a row for each migration applied, and keeps the rest
# Tables that gain rows for new models (their content types and permissions) and keep the rest.
GROWING = {HISTORY, "django_content_type", "auth_permission"}


def _migrate(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "1"}
    for command in (["migrate", "--noinput", "-v", "0"], ["migrate", "--check"]):
        subprocess.run(  # noqa: S603 (our own manage.py)
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=300
        )


Table = tuple[list[str], list[tuple[object, ...]]]  # its column names, and its rows


def _read(execute: Any, tables: list[str], columns: dict[str, list[str]] | None) -> dict[str, Table]:
    """Every table's rows: all its columns, or only `columns[table]` (those it had before)."""
    read = {}
    for table in tables:
        names = ", ".join(f'"{c}"' for c in columns[table]) if columns and table in columns else "*"
        cursor = execute(f'SELECT {names} FROM "{table}"')  # noqa: S608 (names from the catalogue)
        read[table] = ([d[0] for d in cursor.description], cursor.fetchall())
    return read


def _digests(rows_of: dict[str, list[tuple[object, ...]]]) -> dict[str, str]:
    return {
        table: hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
        for table, rows in rows_of.items()
    }


def _assert_kept(before_tables: dict[str, Table], after_tables: dict[str, Table]) -> None:
    before = {table: rows for table, (_, rows) in before_tables.items()}
    after = {table: rows for table, (_, rows) in after_tables.items()}
    assert before, "the fixture restored no table"
    assert sum(map(len, before.values())) > 1000, "the fixture should hold a seeded demo"
    missing = set(before) - set(after)
    assert not missing, f"tables gone after migrate: {sorted(missing)}"
    for table in GROWING:
        assert set(map(repr, before[table])) <= set(map(repr, after[table])), f"{table} lost rows"
    # Each migration the old database recorded is still one of ours (an app label or a
    # migration renamed would be applied again under its new name), and each of its tables
    # is still a model's (a db_table changed would leave the rows behind a new, empty table).
    ours = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    recorded = {(app, name) for _, app, name, _ in before[HISTORY]}
    assert not recorded - ours, f"migrations no longer ours: {sorted(recorded - ours)}"
    tables = {model._meta.db_table for model in apps.get_models(include_auto_created=True)}
    orphans = set(before) - tables - MIGRATION_TABLES - {HISTORY}
    assert not orphans, f"tables no model owns: {sorted(orphans)}"
    kept = set(before) - GROWING - set(CHANGED_ON_PURPOSE)
    old, new = _digests({t: before[t] for t in kept}), _digests({t: after[t] for t in kept})
    changed = sorted(table for table in kept if old[table] != new[table])
    assert not changed, f"migrate changed the rows of {changed}"


def _sqlite(path: Path) -> sqlite3.Connection:
    """A connection with the functions Django's backend gives SQLite, which the schema's
    check constraints call."""
    db = sqlite3.connect(path)
    register_django_functions(db)
    return db


def _sqlite_rows(path: Path, columns: dict[str, list[str]] | None = None) -> dict[str, Table]:
    with _sqlite(path) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return _read(db.execute, [t for t in tables if not t.startswith("sqlite_")], columns)


def _columns(tables: dict[str, Table]) -> dict[str, list[str]]:
    return {table: names for table, (names, _) in tables.items()}


def test_a_sqlite_database_of_the_previous_layout_migrates_forward_unchanged(tmp_path):
    path = tmp_path / "previous.sqlite3"
    with _sqlite(path) as db:
        db.executescript(gzip.decompress((FIXTURES / "before_layout.sqlite.sql.gz").read_bytes()).decode())
    before = _sqlite_rows(path)

    _migrate(f"sqlite:///{path}")

    _assert_kept(before, _sqlite_rows(path, _columns(before)))


@pytest.fixture
def scratch_postgres() -> Iterator[str]:
    """A database of its own on the test server, dropped afterwards."""
    db = settings.DATABASES["default"]
    server = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    name = f"perkline_upgrade_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _postgres_rows(url: str, columns: dict[str, list[str]] | None = None) -> dict[str, Table]:
    with psycopg.connect(url) as db:
        tables = [t for (t,) in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return _read(db.execute, tables, columns)


@pytest.mark.postgres
def test_a_postgresql_database_of_the_previous_layout_migrates_forward_unchanged(scratch_postgres):
    dump = gzip.decompress((FIXTURES / "before_layout.postgresql.sql.gz").read_bytes())
    psql = ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", scratch_postgres]  # comes with PostgreSQL
    subprocess.run(  # noqa: S603 (psql restores a plain pg_dump)
        psql,
        input=dump,
        check=True,
        capture_output=True,
        timeout=120,
    )
    before = _postgres_rows(scratch_postgres)

    _migrate(scratch_postgres)

    _assert_kept(before, _postgres_rows(scratch_postgres, _columns(before)))
