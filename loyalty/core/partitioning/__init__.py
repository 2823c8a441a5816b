"""Monthly range partitions for the append-only history tables, on PostgreSQL only.

History (score events, snapshots, look-ups, notifications, usage, webhook attempts, audit)
grows without bound in one heap. On PostgreSQL each such table becomes a parent
partitioned by month on its time column, and pg_partman 4.7 (Debian's
`postgresql-15-partman`, in the `partman` schema) makes the months ahead and drops the
months past each table's retention (`settings.PARTITION_RETENTION`): dropping a month is
one statement, where deleting its rows would write and vacuum every one of them. SQLite,
which only runs the embedded demo, keeps plain tables: every operation here does nothing
there.

`PartitionByMonth` is the migration operation. It keeps the table's name, columns,
defaults, identity, CHECK constraints, indexes, outgoing foreign keys and triggers (read
from the catalogue, so the migration names none of them); only the primary key gains the
time column, which PostgreSQL requires of every unique key of a partitioned table. Unique
keys without the time move to small unpartitioned key tables before (docs/operations.md,
"Partitioned history"). The models keep `id` as Django's primary key: the ORM only ever
filters by it, and ids still come from one sequence.

Rows already there are not copied, so the migration holds its lock for an index build,
not for a copy: an empty table (a new deploy, every test database) is dropped, and a
filled one becomes the new parent's DEFAULT partition, so every row stays readable; the
months start after the current one so that no row of it belongs to another partition.
`manage.py partition_history` then moves those rows into their months in committed
batches (`history_move` below), resumable at any point.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, migrations, models, transaction

from loyalty.core.partitioning import sql


class PartitionByMonth(migrations.operations.base.Operation):
    """Make `table` a parent partitioned by month on `column` (PostgreSQL; nothing on SQLite).

    `premake`: how many months ahead pg_partman keeps ready. Reversible: backwards copies
    every row into a plain table again. The table must have no unique key but its primary
    key (move those to a key table first). Needs pg_partman installed in the database, or a
    role allowed to create the extension (docs/operations.md).
    """

    reversible = True
    reduces_to_sql = False

    def __init__(self, table: str, column: str, premake: int = 4) -> None:
        self.table = table
        self.column = column
        self.premake = premake

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.table, self.column], {"premake": self.premake})

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass  # the models keep their fields: only the storage changes

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            sql.partition(schema_editor, self.table, self.column, self.premake)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            sql.unpartition(schema_editor, self.table)

    def describe(self) -> str:
        return f"Partition {self.table} by month of {self.column}"

    @property
    def migration_name_fragment(self) -> str:
        return f"partition_{self.table}"


def partitioned_tables() -> list[str]:
    """The tables pg_partman manages here (none on SQLite)."""
    return sql.partition_managed(connection) if connection.vendor == "postgresql" else []


def partitions_maintain() -> list[str]:
    """Write each table's retention and months ahead from settings into pg_partman's
    configuration, then let it create the months ahead and drop those past retention
    (beat's `core.partitions_maintain`). `settings.PARTITION_RETENTION`: months to keep by
    table, None (or absent) to keep every month. Returns the tables maintained."""
    retention: dict[str, int | None] = settings.PARTITION_RETENTION
    tables = partitioned_tables()
    for table in tables:
        with transaction.atomic():
            sql.partition_maintain(table, months=retention.get(table), premake=settings.PARTITION_PREMAKE)
    return tables


@dataclass(frozen=True)
class Moved:
    table: str
    rows: int
    left: int  # rows still in the DEFAULT partition after this batch


def history_move(*, months: int = 1, max_batches: int | None = None) -> Iterator[Moved]:
    """Move rows out of each partitioned table's DEFAULT partition into their months, one
    committed batch of `months` months of rows at a time, oldest first, yielding after each.

    Resumable by construction: a batch moves its rows in one transaction, so a stopped run
    leaves every row in exactly one place, and running again goes on from there.
    """
    done = 0
    for table in partitioned_tables():
        while (max_batches is None or done < max_batches) and sql.default_count(table):
            with transaction.atomic():
                moved = sql.default_move_batch(table, months=months)
            done += 1
            yield Moved(table, moved, sql.default_count(table))


def default_rows() -> dict[str, int]:
    """Rows still waiting in each partitioned table's DEFAULT partition."""
    return {table: sql.default_count(table) for table in partitioned_tables()}


def keys_insert_new(model: type[models.Model], keys: Iterable[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    """Claim `keys` in the key table `model` (values of its concrete fields, in order);
    returns the keys claimed now. Call it inside the transaction that writes the rows, and
    write only the rows whose key it returns: a concurrent writer of the same key waits
    for that transaction, then finds the key taken."""
    return sql.keys_insert_new(model, keys)


def keys_insert_new_one_by_one(
    model: type[models.Model], keys: Iterable[tuple[Any, ...]]
) -> set[tuple[Any, ...]]:
    """What `keys_insert_new` does, through the ORM a key at a time: the form
    tests/loyalty/core/partitioning/test_sql.py holds the statement to."""
    names = [field.attname for field in model._meta.concrete_fields]
    new = set()
    for key in dict.fromkeys(keys):
        _, created = model._default_manager.get_or_create(**dict(zip(names, key, strict=True)))
        if created:
            new.add(key)
    return new
