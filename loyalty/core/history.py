"""Append-only tables, enforced by PostgreSQL: a trigger refuses UPDATE and DELETE.

History rows (score events, snapshots, audit trails) are evidence: code never rewrites
them, and the database makes sure nothing else does either. `append_only(...)` is a
migration operation; it does nothing on SQLite, which only runs the embedded demo.
"""

from typing import Any

from django.db import migrations

_FUNCTION = """
CREATE OR REPLACE FUNCTION perkline_refuse_history_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


def append_only(*tables: str) -> migrations.RunPython:
    def forwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(_FUNCTION, params=None)
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
