"""The statements of partitioning (the package's docstring says why): DDL built from the
catalogue, and pg_partman's functions. PostgreSQL only; callers check the vendor."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from loyalty.core.sql import Statement, rows_insert_returning

PARTMAN = "partman"  # the schema pg_partman's functions and part_config live in
OLD = "_unpartitioned"
# the suffix the plain table carries while the parent is built


def _rows(connection: BaseDatabaseWrapper, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


@dataclass(frozen=True)
class _Definition:
    """What a table carries beside its columns, as DDL naming the table itself."""

    indexes: list[str]  # CREATE INDEX …, every non-unique index
    foreign_keys: list[tuple[str, str]]  # (name, definition)
    triggers: list[tuple[str, str]]  # (name, CREATE TRIGGER …), the table's own, not internal ones

    @classmethod
    def read(cls, connection: BaseDatabaseWrapper, table: str) -> "_Definition":
        indexes = _rows(
            connection,
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s::regclass AND NOT i.indisunique AND NOT i.indisprimary"
            " ORDER BY c.relname",
            [table],
        )
        unique = _rows(
            connection,
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s::regclass AND i.indisunique AND NOT i.indisprimary",
            [table],
        )
        if unique:
            # A unique key without the time cannot be kept by a partitioned table: it has to
            # move to a key table first, never be dropped here in silence.
            raise ValueError(f"{table} has unique keys {[name for (name,) in unique]}: move them first")
        foreign_keys = _rows(
            connection,
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [table],
        )
        triggers = _rows(
            connection,
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger"
            " WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgparentid = 0 ORDER BY tgname",
            [table],
        )
        return cls(
            # A partitioned parent's own index reads "ON ONLY": the plain table's covers all.
            [sql.replace(" ON ONLY ", " ON ", 1) for (sql,) in indexes],
            [(name, sql) for name, sql in foreign_keys],
            [(name, sql) for name, sql in triggers],
        )

    def old_index_names(self, connection: BaseDatabaseWrapper, table: str) -> list[str]:
        return [
            name
            for (name,) in _rows(
                connection,
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary",
                [table],
            )
        ]

    def apply(self, execute: Callable[[str], None], table: str) -> None:
        """Give `table` (the new one, with the old one's name) what the old one had."""
        for sql in self.indexes:
            execute(sql)
        for name, sql in self.foreign_keys:
            execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {sql}')
        for _name, sql in self.triggers:
            execute(sql)


def _set_aside(execute: Callable[[str], None], connection: BaseDatabaseWrapper, table: str) -> str:
    """Rename `table`, its primary key, indexes and identity sequence out of the way, and drop
    its triggers (the new table gets them); returns its new name."""
    old = f"{table}{OLD}"
    definition = _Definition.read(connection, table)
    sequence = _rows(connection, "SELECT pg_get_serial_sequence(%s, 'id')", [table])[0][0]
    for name, _sql in definition.triggers:
        execute(f'DROP TRIGGER "{name}" ON "{table}"')
    for number, name in enumerate(definition.old_index_names(connection, table)):
        execute(f'ALTER INDEX "{name}" RENAME TO "{old[:40]}_{number}_idx"')
    execute(f'ALTER TABLE "{table}" RENAME CONSTRAINT "{table}_pkey" TO "{old[:50]}_pkey"')
    execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
    if sequence:
        execute(f'ALTER SEQUENCE {sequence} RENAME TO "{old[:50]}_id_seq"')
    return old


def _continue_sequence(execute: Callable[[str], None], table: str, old: str) -> None:
    """The new table's ids go on from where the old table's stopped."""
    execute(
        f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), last_value, is_called)"  # noqa: S608  # nosec B608  # names from the migration
        f' FROM "{old[:50]}_id_seq"'
    )


def _month_start(connection: BaseDatabaseWrapper, months_ahead: int) -> str:
    return _rows(
        connection,
        "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + %s * interval '1 month',"
        " 'YYYY-MM-DD HH24:MI:SS')",
        [months_ahead],
    )[0][0]


def partition(schema_editor: BaseDatabaseSchemaEditor, table: str, column: str, premake: int) -> None:
    connection = schema_editor.connection
    execute = schema_editor.execute
    execute(f"CREATE SCHEMA IF NOT EXISTS {PARTMAN}")
    execute(f"CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA {PARTMAN}")
    definition = _Definition.read(connection, table)
    old = _set_aside(execute, connection, table)
    execute(
        f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING GENERATED'
        f' INCLUDING IDENTITY INCLUDING CONSTRAINTS) PARTITION BY RANGE ("{column}")'
    )
    execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_pkey" PRIMARY KEY (id, "{column}")')
    definition.apply(execute, table)
    _continue_sequence(execute, table, old)
    filled = bool(_rows(connection, f'SELECT 1 FROM "{old}" LIMIT 1'))  # noqa: S608  # nosec B608  # a table name from the migration
    # Months from the current one for a new table; from the next for a filled one, whose
    # rows (this month's included) all stay in the DEFAULT partition until moved.
    start = _month_start(connection, 1 if filled else 0)
    execute(
        f"SELECT {PARTMAN}.create_parent('public.{table}', '{column}', 'native', 'monthly',"
        f" p_premake := {int(premake)}, p_start_partition := '{start}')"
    )
    execute(
        f"UPDATE {PARTMAN}.part_config SET infinite_time_partitions = true, retention_keep_table = false"  # noqa: S608  # nosec B608  # names from the migration
        f" WHERE parent_table = 'public.{table}'"
    )
    if not filled:
        execute(f'DROP TABLE "{old}"')
        return
    # The old table becomes the DEFAULT partition: it keeps its heap and, where they match
    # the parent's, its indexes and foreign keys; only the primary key is rebuilt with the time.
    execute(f'DROP TABLE "{table}_default"')
    execute(f'ALTER TABLE "{old}" DROP CONSTRAINT "{old[:50]}_pkey"')
    execute(f'ALTER TABLE "{old}" ALTER COLUMN id DROP IDENTITY IF EXISTS')
    execute(f'ALTER TABLE "{table}" ATTACH PARTITION "{old}" DEFAULT')
    execute(f'ALTER TABLE "{old}" RENAME TO "{table}_default"')


def unpartition(schema_editor: BaseDatabaseSchemaEditor, table: str) -> None:
    """A plain table again, with every row: the reverse of `partition`."""
    connection = schema_editor.connection
    execute = schema_editor.execute
    definition = _Definition.read(connection, table)
    sequence = _rows(connection, "SELECT pg_get_serial_sequence(%s, 'id')", [table])[0][0]
    plain = f"{table}_plain"
    execute(
        f'CREATE TABLE "{plain}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING GENERATED'
        " INCLUDING CONSTRAINTS)"
    )
    execute(f'INSERT INTO "{plain}" SELECT * FROM "{table}"')  # noqa: S608  # nosec B608  # names from the migration
    last = _rows(connection, f"SELECT last_value, is_called FROM {sequence}")[0]  # noqa: S608  # nosec B608  # a catalogue name
    execute(f'DROP TABLE "{table}" CASCADE')
    execute(f"DELETE FROM {PARTMAN}.part_config WHERE parent_table = 'public.{table}'")  # noqa: S608  # nosec B608  # names from the migration
    execute(f'DROP TABLE IF EXISTS {PARTMAN}."template_public_{table}"')
    execute(f'ALTER TABLE "{plain}" RENAME TO "{table}"')
    execute(f'ALTER TABLE "{table}" ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY')
    execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), {int(last[0])}, {bool(last[1])})")
    execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_pkey" PRIMARY KEY (id)')
    definition.apply(execute, table)


def partition_managed(connection: BaseDatabaseWrapper) -> list[str]:
    """The tables pg_partman manages in `connection`'s database (none before the migrations)."""
    if not _rows(connection, "SELECT 1 FROM pg_extension WHERE extname = 'pg_partman'"):
        return []
    return [
        name.removeprefix("public.")
        for (name,) in _rows(connection, f"SELECT parent_table FROM {PARTMAN}.part_config ORDER BY 1")  # noqa: S608  # nosec B608  # a constant schema
    ]


def partition_maintain(table: str, *, months: int | None, premake: int) -> None:
    """Keep `table`'s last `months` months (all when None) and `premake` months ahead:
    written into pg_partman's configuration, then its maintenance of that one table."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {PARTMAN}.part_config SET retention = %s, retention_keep_table = false,"  # noqa: S608  # nosec B608  # a constant schema
            " infinite_time_partitions = true, premake = %s WHERE parent_table = %s",
            [f"{months} months" if months else None, premake, f"public.{table}"],
        )
        cursor.execute(f"SELECT {PARTMAN}.run_maintenance(%s)", [f"public.{table}"])


def default_count(table: str) -> int:
    return int(_rows(connection, f'SELECT count(*) FROM ONLY "{table}_default"')[0][0])  # noqa: S608  # nosec B608  # a table name pg_partman manages


def default_move_batch(table: str, *, months: int) -> int:
    """Move the oldest `months` months of rows out of `table`'s DEFAULT partition into their
    partitions (created as needed), in the caller's transaction; the rows moved. pg_partman
    moves a DEFAULT partition's rows a whole month at a time (it creates that month's
    partition, which the month's rows left behind would make fail). The rows are deleted
    there and inserted into the parent, so that one partition's own triggers (the
    append-only ones) are off for the statement and on again before the caller commits."""
    _triggers(table, "DISABLE")
    # pg_partman's scratch table is dropped at commit; a caller batching several tables in
    # one transaction would otherwise meet the previous table's columns in it.
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.partman_temp_data_storage")
    moved = _rows(
        connection,
        f"SELECT {PARTMAN}.partition_data_time(%s, p_batch_count := %s, p_lock_wait := 10)",
        [f"public.{table}", months],
    )[0][0]
    _triggers(table, "ENABLE")
    return int(moved or 0)


def _triggers(table: str, action: str) -> None:
    for (name,) in _rows(
        connection,
        "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
        [f"{table}_default"],
    ):
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER TABLE "{table}_default" {action} TRIGGER "{name}"')


def month_partitions(table: str) -> dict[str, int]:
    """Rows by partition of `table` (pg_partition_tree), for the command's report and tests."""
    counts = {}
    for (name,) in _rows(
        connection,
        "SELECT relid::regclass::text FROM pg_partition_tree(%s) WHERE isleaf ORDER BY 1",
        [table],
    ):
        counts[name] = int(_rows(connection, f'SELECT count(*) FROM ONLY "{name}"')[0][0])  # noqa: S608  # nosec B608  # a catalogue name
    return counts


# Unique keys that a partitioned table cannot hold (they lack the month) live in small key
# tables: a writer claims its keys first, in its own transaction, and writes only the rows
# whose key it got. {table}, {columns} and {rows} are the key model's quoted names and the
# batch's placeholders.
KEYS_INSERT_NEW = Statement(
    "INSERT INTO {table} ({columns}) VALUES {rows} ON CONFLICT DO NOTHING RETURNING {columns}",
    replaces="loyalty.core.partitioning:keys_insert_new_one_by_one",
)


def keys_insert_new(model: type[models.Model], keys: Iterable[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    """Insert `keys` (values of `model`'s concrete fields, in order) not stored yet; returns
    those stored now. One statement a batch, as many as SQLite's parameter limit needs."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return set()
    return set(rows_insert_returning(KEYS_INSERT_NEW, model, list(model._meta.concrete_fields), keys))
