# ruff: noqa: S608  (table names come from the models)
"""The statements the row-size measurement writes by hand. They read PostgreSQL's own
catalogue functions (`pg_column_size`, `pg_total_relation_size`, `pg_partition_tree`),
which no ORM code stands in for."""

from django.db import connection

TABLE_BYTES = """
    SELECT coalesce(
        (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(%s::regclass) WHERE isleaf),
        pg_total_relation_size(%s::regclass)
    )
"""


def table_rows(table: str) -> tuple[int, float]:
    """A table's rows and the mean size of a row's heap tuple in bytes."""
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), coalesce(avg(pg_column_size(t.*)), 0) FROM {quoted} AS t")  # nosec B608  # names from the models
        rows, heap_row = cursor.fetchone()
    return int(rows), float(heap_row)


def table_bytes(table: str) -> int:
    """A table's size on disk with its TOAST and indexes, over its partitions when it has them."""
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        cursor.execute(TABLE_BYTES, [quoted, quoted])
        (total,) = cursor.fetchone()
    return int(total)


def server_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (version,) = cursor.fetchone()
    return str(version)
