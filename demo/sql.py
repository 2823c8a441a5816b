# ruff: noqa: S608  (names come from the models and the catalog, constants from their choices)
"""Every statement the demo app writes out by hand, each beside the ORM code it stands in for
(`replaces`); tests/demo/test_sql.py holds each pair to the same rows.

They load synthetic members on PostgreSQL (synthetic.py): the generated rows are COPYed into
a temporary table and the real tables are filled by set-based INSERT … SELECT in ref order,
which is what `_insert_batches` does with bulk_create elsewhere, so each names it. The
temporary table, the session settings and the foreign keys dropped and added back around
the load are DDL and stand in for no ORM code: they are not Statements.
"""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection

from loyalty.core.sql import Statement
from loyalty.members.models import Consent, ConsentChange, ConsentSource, Member
from loyalty.scoring.models import DIMENSION_BITS, MemberStanding

SYNTHETIC = "demo.synthetic:_insert_batches"
_USERS = get_user_model()._meta.db_table
_MEMBERS = Member._meta.db_table
_STANDINGS = MemberStanding._meta.db_table
_CONSENTS = Consent._meta.db_table
_CONSENT_CHANGES = ConsentChange._meta.db_table
_FILLED_TABLES = [_MEMBERS, _STANDINGS, _CONSENTS, _CONSENT_CHANGES]

_STAGE_TABLE = (
    "CREATE TEMPORARY TABLE synthetic_member "
    "(ref text PRIMARY KEY, score smallint, tier_id bigint, shared smallint, withdrawn smallint) "
    "ON COMMIT DROP"
)
_FOREIGN_KEYS = """
    SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
    WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s) ORDER BY 1, 2
"""

SYNTHETIC_STAGE = Statement("COPY synthetic_member FROM STDIN", replaces=SYNTHETIC)

_DIMENSIONS = (
    "(VALUES " + ", ".join(f"('{d}', {bit})" for d, bit in DIMENSION_BITS.items()) + ") AS d(dimension, bit)"
)
_NEW_MEMBERS = f"synthetic_member s JOIN {_MEMBERS} m ON m.ref = s.ref"
_CONSENTED = f"{_NEW_MEMBERS} JOIN {_DIMENSIONS} ON ((s.shared | s.withdrawn) & d.bit) <> 0"

SYNTHETIC_USERS_AND_MEMBERS = Statement(
    f"""
    WITH new_users AS (
        INSERT INTO {_USERS} (password, is_superuser, username, first_name, last_name, email, is_staff,
            is_active, date_joined)
        SELECT %(password)s, false, s.ref || '@' || %(domain)s, '', '', s.ref || '@' || %(domain)s, false,
            true, %(now)s
        FROM synthetic_member s ORDER BY s.ref
        RETURNING id, username
    )
    INSERT INTO {_MEMBERS} (user_id, ref, display_name, locale, email_verified, phone, phone_verified,
        joined_at)
    SELECT id, split_part(username, '@', 1), '', 'en', false, '', false, %(now)s FROM new_users ORDER BY id
    """,  # nosec B608  # model names and constants only; values are bound parameters
    replaces=SYNTHETIC,
)
SYNTHETIC_STANDINGS = Statement(
    f"""
    INSERT INTO {_STANDINGS} (member_id, score, tier_id, shared_dimensions, engine_version, version,
        updated_at)
    SELECT m.id, s.score, s.tier_id, s.shared, %(engine)s, 0, %(now)s FROM {_NEW_MEMBERS} ORDER BY m.id
    """,  # nosec B608  # model names and constants only; values are bound parameters
    replaces=SYNTHETIC,
)
SYNTHETIC_CONSENTS = Statement(
    f"""
    INSERT INTO {_CONSENTS} (member_id, dimension, granted, changed_at)
    SELECT m.id, d.dimension, (s.shared & d.bit) <> 0, %(now)s FROM {_CONSENTED} ORDER BY m.id, d.dimension
    """,  # nosec B608  # model names and constants only; values are bound parameters
    replaces=SYNTHETIC,
)
SYNTHETIC_CONSENT_CHANGES = Statement(
    f"""
    INSERT INTO {_CONSENT_CHANGES} (member_id, dimension, granted, source, changed_at)
    SELECT m.id, d.dimension, choice.granted, '{ConsentSource.SEED}', %(now)s
    FROM {_CONSENTED}
    JOIN (VALUES (true), (false)) AS choice(granted) ON choice.granted OR (s.withdrawn & d.bit) <> 0
    ORDER BY m.id
    """,  # nosec B608  # model names and constants only; values are bound parameters
    replaces=SYNTHETIC,
)
_FILLS = [SYNTHETIC_USERS_AND_MEMBERS, SYNTHETIC_STANDINGS, SYNTHETIC_CONSENTS, SYNTHETIC_CONSENT_CHANGES]


def synthetic_members_load(rows: Iterable[tuple[str, int, int, int, int]], params: dict[str, Any]) -> None:
    """Load (ref, score, tier id, shared, withdrawn) rows, in ref order, as members with their
    users, standings, consents and consent history, in the current transaction; the foreign
    keys of the tables filled are dropped for the load and added back (synthetic.py says why)."""
    with connection.cursor() as cursor:
        cursor.execute(_STAGE_TABLE)
        with cursor.cursor.copy(SYNTHETIC_STAGE.sql) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute("ANALYZE synthetic_member")
        # Checks still deferred in this transaction would forbid altering the tables.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL work_mem = '256MB'")  # the ORDER BYs sort in memory
        cursor.execute(_FOREIGN_KEYS, [_FILLED_TABLES])
        foreign_keys = cursor.fetchall()
        for table, name, _definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for statement in _FILLS:
            cursor.execute(statement.sql, params)
        for table, name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
