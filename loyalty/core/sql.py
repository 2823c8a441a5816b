"""Statements written out by hand, for the few hot paths where compiling an ORM query
costs more than the database spends running it (a redemption, and the key look-up every
partner API request makes: bench/redeem_api.py).

`Columns(Model, alias)` writes a model's concrete columns into a SELECT list and turns its
share of the row back into an instance, through the same converters the ORM applies, so
one statement serves PostgreSQL and SQLite alike; `row_insert` is `save()` for a new row.
They run on `prepared_cursor()`, which PostgreSQL plans once per connection. Table and
column names come from the models; values are always bound. Everything else stays with
the ORM.
"""

import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, migrations, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

M = TypeVar("M", bound=models.Model)
Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


@dataclass(frozen=True)
class Statement:
    """A statement an app writes out by hand, in its `sql.py` and nowhere else.

    `replaces` names the ORM (or Python) code that gives the same answer, as
    `module:function`; the app's `test_sql.py` holds the two to it, and
    tests/test_layout.py checks that every statement names one that exists.
    """

    sql: str
    replaces: str

    def __str__(self) -> str:
        return self.sql


def database() -> BaseDatabaseWrapper:
    """This thread's connection itself: every attribute read through `django.db.connection`,
    a proxy, costs a thread-local look-up, and a hot path reads dozens."""
    return connections[DEFAULT_DB_ALIAS]


def prepared_cursor() -> CursorWrapper:
    """A cursor for the statements written out here. On PostgreSQL it binds parameters on
    the server, so psycopg prepares each statement once a connection has run it
    `prepare_threshold` times (settings) and PostgreSQL stops planning it on every run,
    which on the hot paths cost more than running it; with the threshold None (behind a
    transaction-pooling PgBouncer, settings) it prepares nothing and binds unnamed
    statements. The ORM keeps the connection's client-side binding, which Django recommends."""
    db = database()
    if db.vendor != "postgresql":
        return db.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor  # type: ignore[attr-defined]

    # As db.cursor() makes its own: the connection's health checked once a request (a
    # connection the database dropped since the last request is replaced, not failed on),
    # then the cursor wrapped, so queries are logged and errors translated alike.
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        return db._prepare_cursor(ServerBindingCursor(db.connection))  # type: ignore[attr-defined]


class Columns(Generic[M]):
    def __init__(self, model: type[M], alias: str) -> None:
        self.model = model
        self.alias = alias
        self.fields = model._meta.concrete_fields
        self._pk_index = list(self.fields).index(model._meta.pk)
        self._attnames = [field.attname for field in self.fields]
        # Converters are the connection's own methods, and connections are per thread.
        self._converters: weakref.WeakKeyDictionary[
            BaseDatabaseWrapper, list[tuple[int, list[Converter], Any]]
        ]
        self._converters = weakref.WeakKeyDictionary()

    def __len__(self) -> int:
        return len(self.fields)

    @property
    def table(self) -> str:
        """`table alias`, for a FROM or JOIN clause."""
        return f"{self.model._meta.db_table} {self.alias}"

    def col(self, name: str) -> str:
        """One column by its field's name (`alias.column`)."""
        return f"{self.alias}.{self.model._meta.get_field(name).column}"  # type: ignore[union-attr]

    def select(self) -> str:
        return ", ".join(f"{self.alias}.{field.column}" for field in self.fields)

    def instance(self, row: Sequence[Any], start: int = 0) -> M | None:
        """The instance in `row[start:start + len(self)]`; None where an outer join found none."""
        values = list(row[start : start + len(self.fields)])
        if values[self._pk_index] is None:
            return None
        db = database()
        for index, converters, column in self._converters_for(db):
            value = values[index]
            for convert in converters:
                value = convert(value, column, db)
            values[index] = value
        return self.model.from_db(db.alias, self._attnames, values)

    def _converters_for(self, connection: BaseDatabaseWrapper) -> list[tuple[int, list[Converter], Any]]:
        found = self._converters.get(connection)
        if found is None:
            found = []
            for index, field in enumerate(self.fields):
                column = field.get_col(self.alias)
                converters = _converters(field, column, connection)
                if converters:
                    found.append((index, converters, column))
            self._converters[connection] = found
        return found


def instances(row: Sequence[Any], reads: Sequence[Columns[Any]]) -> list[Any]:
    """One instance (or None) for each of `reads`, in the order the SELECT list has them."""
    found, start = [], 0
    for columns in reads:
        found.append(columns.instance(row, start))
        start += len(columns)
    return found


def column_value(field: "models.Field[Any, Any]", value: Any) -> Any:
    """`value`, read from a column of `field`'s kind (an aggregate of it, say), converted as
    the ORM converts it."""
    db = database()
    column = field.get_col(field.model._meta.db_table)
    for convert in _converters(field, column, db):
        value = convert(value, column, db)
    return value


def _converters(field: "models.Field[Any, Any]", column: Any, db: BaseDatabaseWrapper) -> list[Converter]:
    """What the ORM applies to a value read from `column`: the backend's, then the field's."""
    return db.ops.get_db_converters(column) + field.get_db_converters(db)  # type: ignore[attr-defined]


def row_read(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """The row a written-out statement returns (its first), or None when it returns none."""
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        row: tuple[Any, ...] | None = cursor.fetchone()
    return row


def row_insert(obj: models.Model) -> None:
    """INSERT `obj` as `obj.save()` would make it (defaults, `auto_now_add`, the database's
    representation of every value) and take its new primary key, without the ORM's compiler."""
    db = database()
    insert = _insert_statement(type(obj), db)
    with prepared_cursor() as cursor:
        cursor.execute(insert.sql, _insert_values(obj, insert.fields, db))
        if db.features.can_return_columns_from_insert:
            (pk,) = cursor.fetchone()
        else:
            pk = db.ops.last_insert_id(cursor, obj._meta.db_table, obj._meta.pk.column)
    _saved(obj, pk, db)


def row_insert_after(obj: models.Model, *, statement: str, params: Sequence[Any]) -> bool:
    """INSERT `obj` (as `row_insert`) if `statement`, which changes rows and returns those it
    changed (UPDATE … RETURNING), returns one; whether it did. On PostgreSQL both go in one
    round trip, as a data-modifying WITH; elsewhere one after the other."""
    db = database()
    if db.vendor != "postgresql":
        if row_read(statement, params) is None:
            return False
        row_insert(obj)
        return True
    fields = _insert_statement(type(obj), db).fields
    row = row_read(
        _insert_after_statement(type(obj), db, statement), [*params, *_insert_values(obj, fields, db)]
    )
    if row is None:
        return False
    _saved(obj, row[0], db)
    return True


def rows_insert_returning(
    statement: Statement,
    model: type[models.Model],
    fields: Sequence["models.Field[Any, Any]"],
    rows: Sequence[Sequence[Any]],
) -> Iterator[tuple[Any, ...]]:
    """Run `statement` (an INSERT with {table}, {columns} and {rows} to fill) over `rows`
    (values of `fields`, in order) in batches of as many rows as the database's parameter
    limit allows (one on PostgreSQL; SQLite takes 999 parameters), yielding what it returns."""
    db = connections[DEFAULT_DB_ALIAS]
    quote = db.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    per_statement = db.ops.bulk_batch_size(list(fields), list(rows))
    with db.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            batch = rows[start : start + per_statement]
            params = [
                field.get_db_prep_save(value, db)
                for row in batch
                for field, value in zip(fields, row, strict=True)
            ]
            sql = statement.sql.format(
                table=quote(model._meta.db_table),
                columns=columns,
                rows=", ".join([placeholders] * len(batch)),
            )
            cursor.execute(sql, params)
            yield from (tuple(row) for row in cursor.fetchall())


def _saved(obj: models.Model, pk: Any, db: BaseDatabaseWrapper) -> None:
    """`obj` as the ORM leaves an instance it has just inserted."""
    obj.pk = pk
    obj._state.adding, obj._state.db = False, db.alias


def _insert_values(
    obj: models.Model, fields: list["models.Field[Any, Any]"], db: BaseDatabaseWrapper
) -> list[Any]:
    return [field.get_db_prep_save(field.pre_save(obj, True), db) for field in fields]


_INSERTS_AFTER: dict[tuple[type[models.Model], str], str] = {}


def _insert_after_statement(model: type[models.Model], db: BaseDatabaseWrapper, statement: str) -> str:
    found = _INSERTS_AFTER.get((model, statement))
    if found is None:
        meta, quote = model._meta, db.ops.quote_name
        insert = _insert_statement(model, db)
        # Typed: parameters in a SELECT list carry no column type to infer from.
        values = ", ".join(f"CAST(%s AS {field.cast_db_type(db)})" for field in insert.fields)  # type: ignore[attr-defined]
        found = _INSERTS_AFTER[model, statement] = (
            f"WITH first AS ({statement}) INSERT INTO {quote(meta.db_table)}"  # noqa: S608  # nosec B608  # names from the model; values are bound parameters
            f" ({insert.columns}) SELECT {values} FROM first RETURNING {quote(meta.pk.column)}"
        )
    return found


class _Insert(NamedTuple):
    fields: list["models.Field[Any, Any]"]
    columns: str  # their quoted names, comma-separated
    sql: str


_INSERTS: dict[tuple[type[models.Model], str], _Insert] = {}


def _insert_statement(model: type[models.Model], connection: BaseDatabaseWrapper) -> _Insert:
    found = _INSERTS.get((model, connection.vendor))
    if found is None:
        meta, quote = model._meta, connection.ops.quote_name
        fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
        columns = ", ".join(quote(field.column) for field in fields)
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({columns})"  # noqa: S608  # nosec B608  # names from the model; values are bound parameters
            f" VALUES ({', '.join(['%s'] * len(fields))})"
        )
        if connection.features.can_return_columns_from_insert:
            sql += f" RETURNING {quote(meta.pk.column)}"
        found = _INSERTS[model, connection.vendor] = _Insert(fields, columns, sql)
    return found


# Append-only tables, enforced by PostgreSQL: a trigger refuses UPDATE and DELETE. History
# rows (score events, snapshots, audit trails) are evidence: code never rewrites them, and
# the database makes sure nothing else does either. DDL, standing in for no ORM code, so no
# Statement; migrations run it, through `append_only`.

_REFUSE_HISTORY_CHANGE = """
CREATE OR REPLACE FUNCTION perkline_refuse_history_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


def append_only(*tables: str) -> migrations.RunPython:
    """A migration operation making `tables` append-only: history rows (score events,
    snapshots, audit trails) are evidence, so PostgreSQL refuses their UPDATE and DELETE.
    It does nothing on SQLite, which only runs the embedded demo."""

    def forwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(_REFUSE_HISTORY_CHANGE, params=None)
        for table in tables:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION perkline_refuse_history_change()"
            )

    def backwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in tables:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")

    return migrations.RunPython(forwards, backwards)


# The history that erasure deletes (GDPR Art. 17): still append-only, except that a row of a
# member already marked erased may be deleted, so erasure can remove it and nothing else can.
_REFUSE_HISTORY_CHANGE_UNLESS_ERASED = """
CREATE OR REPLACE FUNCTION perkline_refuse_history_change_unless_erased() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM members_member WHERE id = OLD.member_id AND erased_at IS NOT NULL
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'rows of % are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


def append_only_until_erased(*tables: str) -> migrations.RunPython:
    """A migration operation that keeps `tables` (made append-only before, each with a
    `member_id`) append-only, but lets the rows of an erased member be deleted."""

    def swap(function: str) -> Any:
        def run(apps: Any, schema_editor: Any) -> None:
            if schema_editor.connection.vendor != "postgresql":
                return
            schema_editor.execute(_REFUSE_HISTORY_CHANGE_UNLESS_ERASED, params=None)
            for table in tables:
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION {function}()"
                )

        return run

    return migrations.RunPython(
        swap("perkline_refuse_history_change_unless_erased"), swap("perkline_refuse_history_change")
    )
