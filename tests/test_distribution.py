"""The schema held to what a Citus cluster needs (config/distribution.py, docs/distribution.md).

Citus cannot be installed here, so these check what can be: every table is placed, every
unique key of a distributed table can stay unique on one shard (or is a documented
exception), and the statements of a redemption each name their distribution column.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection
from django.db.models import ForeignKey, Model
from django.test.utils import CaptureQueriesContext

from config.distribution import TABLES, UNIQUE_EXCEPTIONS, Distributed, Local, Reference
from perks.vouchers.codes import code_format
from perks.vouchers.models import Redemption
from tests.factories import JoinedMemberFactory, PerkFactory
from tests.factories.vouchers import VoucherFactory
from tests.surfaces.api.conftest import partner  # noqa: F401 (the partner API client, a fixture)

DOC = Path(__file__).resolve().parent.parent / "docs" / "distribution.md"


def _models() -> dict[str, type[Model]]:
    return {
        model._meta.db_table: model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }


def _distributed() -> dict[str, Distributed]:
    return {table: p for table, p in TABLES.items() if isinstance(p, Distributed)}


def _foreign_keys(table: str) -> dict[str, str]:
    """Each foreign-key column of `table` and the table it points at."""
    models = _models()
    return {
        field.column: field.target_field.model._meta.db_table
        for field in models[table]._meta.concrete_fields
        if isinstance(field, ForeignKey)
    }


# --- (1) Every table is placed, and the placements hang together ---------------------------


def test_every_table_of_every_installed_model_is_placed():
    tables = set(_models())

    assert sorted(tables - set(TABLES)) == [], "place these in config/distribution.py"
    assert sorted(set(TABLES) - tables) == [], "no model has these tables"


def test_each_group_starts_with_its_first_table_and_its_columns_exist():
    created: set[str] = set()
    for table, placement in TABLES.items():
        if isinstance(placement, Distributed):
            columns = {field.column for field in _models()[table]._meta.concrete_fields}
            assert placement.group in created | {table}, f"{table}: its group starts later"
            assert placement.group == table or isinstance(TABLES[placement.group], Distributed)
            assert placement.column in columns or placement.added_from, (
                f"{table} has no {placement.column}: say where the migration copies it from"
            )
            assert placement.column not in columns or not placement.added_from, f"{table} has it"
            assert set(placement.same_key) <= columns, table
        created.add(table)


def test_foreign_keys_citus_keeps_point_at_tables_created_before():
    """Reference tables may point at reference tables, a distributed table at reference
    tables and at rows of its own group that carry its distribution value (`same_key`)."""
    created: set[str] = set()
    for table, placement in TABLES.items():
        targets = _foreign_keys(table)
        if isinstance(placement, Distributed):
            for column in placement.same_key:
                target = TABLES[targets[column]]
                assert isinstance(target, Distributed), f"{table}.{column}"
                assert target.group == placement.group, f"{table}.{column} leaves its group"
                assert targets[column] in created | {table}, f"{table}.{column}: created later"
        kept = [t for t in targets.values() if isinstance(TABLES[t], Reference)]
        assert set(kept) <= created, f"{table} points at reference tables created after it"
        created.add(table)


def test_no_reference_table_is_one_that_grows_with_members_or_redemptions():
    grows = {"members_member", "auth_user", "vouchers_voucher", "vouchers_redemption", "scoring_scoreevent"}

    assert not [t for t in grows if isinstance(TABLES[t], Reference)]


# --- The document shows what is declared ----------------------------------------------------


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _doc_rows(heading: str) -> list[list[str]]:
    """The rows of the first Markdown table after `heading`, each cell without its `…`."""
    section = _doc().split(heading, 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not set(line) <= set("|-: "):
            rows.append([cell.replace("`", "").strip() for cell in line.strip().strip("|").split("|")])
    return rows[1:]  # the header


def _placement_row(table: str) -> list[str]:
    placement = TABLES[table]
    if isinstance(placement, Reference | Local):
        return [table, type(placement).__name__.lower(), "", "", placement.reason]
    column = placement.column + (f" (added, from {placement.added_from})" if placement.added_from else "")
    return [table, "distributed", column, placement.group, ""]


def test_the_doc_places_every_table_as_declared():
    assert _doc_rows("## Every table") == [_placement_row(table) for table in TABLES]


def citus_calls() -> list[str]:
    """The calls that distribute the schema, in the declaration's order."""
    calls = []
    for table, placement in TABLES.items():
        if isinstance(placement, Reference):
            calls.append(f"SELECT create_reference_table('{table}');")
        elif isinstance(placement, Distributed):
            colocate = "none" if placement.group == table else placement.group
            calls.append(
                f"SELECT create_distributed_table('{table}', '{placement.column}', "
                f"colocate_with => '{colocate}');"
            )
    return calls


def test_the_doc_lists_the_citus_calls_in_order():
    block = _doc().split("```sql\n", 1)[1].split("```", 1)[0]

    assert block.strip().splitlines() == citus_calls()


def test_the_doc_lists_every_unique_key_exception():
    rows = {(table, columns) for table, columns, _how in _doc_rows("## Unique keys")}

    assert rows == {(table, ", ".join(columns)) for table, columns in UNIQUE_EXCEPTIONS}


def test_the_architecture_doc_links_here():
    assert "(distribution.md)" in (DOC.parent / "architecture.md").read_text(encoding="utf-8")


# --- (2) Unique keys of distributed tables, read from PostgreSQL's catalogue -------------------


@dataclass(frozen=True)
class UniqueKey:
    table: str
    name: str
    columns: tuple[str, ...]
    primary: bool
    definition: str


_UNIQUE_KEYS = """
SELECT c.relname, i.indexrelid::regclass::text, i.indisprimary,
       ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum ORDER BY k.n),
       pg_get_indexdef(i.indexrelid)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
WHERE i.indisunique AND c.relname = ANY(%s) AND c.relnamespace = current_schema()::regnamespace
"""


def _unique_keys(tables: list[str]) -> Iterator[UniqueKey]:
    with connection.cursor() as cursor:
        cursor.execute(_UNIQUE_KEYS, [tables])
        for table, name, primary, columns, definition in cursor.fetchall():
            yield UniqueKey(table, name, tuple(columns), primary, definition)


def _generated(table: str, column: str) -> bool:
    """Whether `column` takes its values from a sequence (an identity or serial column)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
        return cursor.fetchone()[0] is not None


def _holds_on_one_shard(key: UniqueKey, placement: Distributed) -> bool:
    """A key holds on one shard when it includes the distribution column, or a column whose
    row carries the same distribution value (the migration adds the column to the key); a
    primary key does when its id comes from the table's one sequence, so ids never repeat
    across shards (the migration makes it (distribution column, id))."""
    if {placement.column, *placement.same_key} & set(key.columns):
        return True
    return key.primary and any(_generated(key.table, column) for column in key.columns)


@pytest.mark.postgres
@pytest.mark.django_db
def test_every_unique_key_of_a_distributed_table_includes_its_distribution_column():
    distributed = _distributed()
    keys = list(_unique_keys(list(distributed)))
    assert {key.table for key in keys} == set(distributed), "every table has its primary key"

    unexplained = [
        key.definition
        for key in keys
        if not _holds_on_one_shard(key, distributed[key.table])
        and (key.table, key.columns) not in UNIQUE_EXCEPTIONS
    ]

    assert unexplained == [], "add the distribution column, or say in UNIQUE_EXCEPTIONS how it holds"


@pytest.mark.postgres
@pytest.mark.django_db
def test_every_unique_key_exception_names_a_key_that_needs_one():
    distributed = _distributed()
    needing = {
        (key.table, key.columns)
        for key in _unique_keys(list(distributed))
        if not _holds_on_one_shard(key, distributed[key.table])
    }

    assert sorted(set(UNIQUE_EXCEPTIONS) - needing) == [], "stale exceptions"


# --- (3) The redemption path names its distribution column ---------------------------------------

_TABLE = re.compile(r"\b(?:from|join|update|into)\s+([a-z_][a-z0-9_]*)(?:\s+(?:as\s+)?([a-z_][a-z0-9_]*))?")
_NOT_AN_ALIAS = {
    "on", "where", "set", "join", "left", "right", "inner", "outer", "full", "cross", "using",
    "group", "order", "limit", "returning", "values", "select", "for", "union", "natural", "default",
}  # fmt: skip
_INSERT = re.compile(r"\binsert\s+into\s+([a-z_][a-z0-9_]*)\s*\(([^)]*)\)")


@dataclass(frozen=True)
class Finding:
    """A table a statement reaches without naming its distribution column (`unrouted`), or
    beside a distributed table of another colocation group (`other_group`)."""

    table: str
    problem: str


def _filters_on(sql: str, names: set[str], column: str, *, alone: bool) -> bool:
    """Whether `sql` compares `column` of the table called `names` (its name or alias) in a
    condition; unqualified only when it is the statement's one table."""
    conditions = re.sub(r"\bset\b.*?\bwhere\b", " where ", sql, flags=re.DOTALL)
    qualifier = "|".join(re.escape(name) for name in names)
    own = rf"(?:\b(?:{qualifier})\.){'?' if alone else ''}"
    compared = rf"(?<![\w.]){own}{column}\s*(?:=|\bin\s*\()|=\s*(?:\b(?:{qualifier})\.){column}\b"
    return re.search(compared, conditions) is not None


def findings(sql: str) -> list[Finding]:
    """What keeps `sql` from reaching one shard group in a Citus cluster, read simply."""
    sql = sql.replace('"', "").lower()
    inserted = {m.group(1): {c.strip() for c in m.group(2).split(",")} for m in _INSERT.finditer(sql)}
    reached: dict[str, set[str]] = {}
    for table, alias in _TABLE.findall(sql):
        if table in TABLES:
            reached.setdefault(table, {table}).update(
                {alias} if alias and alias not in _NOT_AN_ALIAS else set()
            )
    distributed = [table for table in reached if isinstance(TABLES[table], Distributed)]
    found = []
    for table in distributed:
        placement = _distributed()[table]
        named = placement.column in inserted.get(table, set()) or _filters_on(
            sql, reached[table], placement.column, alone=len(reached) == 1
        )
        if not named:
            found.append(Finding(table, "unrouted"))
        if placement.group != _distributed()[distributed[0]].group:
            found.append(Finding(table, "other_group"))
    return found


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ('SELECT * FROM "vouchers_voucher" WHERE "vouchers_voucher"."merchant_id" = %s', []),
        ("SELECT * FROM vouchers_voucher v WHERE v.code = %s", [Finding("vouchers_voucher", "unrouted")]),
        (
            "UPDATE vouchers_voucher SET merchant_id = 1 WHERE id = %s",
            [Finding("vouchers_voucher", "unrouted")],
        ),
        ("INSERT INTO vouchers_usagerecord (merchant_id, kind) VALUES (%s, %s)", []),
        (
            "INSERT INTO vouchers_usagerecord (kind) VALUES (%s)",
            [Finding("vouchers_usagerecord", "unrouted")],
        ),
        ("SELECT * FROM scoring_tier t JOIN merchants_merchant m ON m.id = t.id", []),
        (
            "SELECT * FROM vouchers_voucher v JOIN catalog_perk p ON p.merchant_id = v.merchant_id "
            "WHERE v.merchant_id = %s",
            [],
        ),
        (
            "SELECT * FROM vouchers_voucher v JOIN members_member m ON m.id = v.member_id "
            "WHERE v.merchant_id = 1",
            [Finding("members_member", "other_group")],
        ),
    ],
)
def test_findings_read_a_statement(sql, expected):
    assert findings(sql) == expected


# A redemption's statements that a Citus cluster could not route to one shard today. The
# redemption code is not changed for a cluster that does not exist yet: each is the
# migration's work, described in docs/distribution.md.
KNOWN_REDEMPTION_FINDINGS = {
    Finding("members_member", "other_group"): (
        "VOUCHER_FOR_USE (perks/vouchers/sql.py) reads the voucher and its perk (merchant "
        "group) with the member and their standing (member group) in one locked join. Citus "
        "plans neither a join across colocation groups nor FOR UPDATE outside one shard as a "
        "router query: the migration splits it into the voucher's locked read on the "
        "merchant's shard and the member's read by member_id on the member's shard."
    ),
    Finding("scoring_memberstanding", "other_group"): "the same join as members_member, above",
    Finding("vouchers_voucher", "unrouted"): (
        "USE_TAKE (perks/vouchers/sql.py) updates the voucher by id alone: Citus would send it "
        "to every shard of vouchers_voucher as a multi-shard UPDATE. The migration adds "
        "`AND merchant_id = %s` (the caller's merchant), making it a router statement."
    ),
}


@pytest.mark.django_db
def test_each_statement_of_a_redemption_names_its_distribution_column(partner):  # noqa: F811
    perk = PerkFactory.create(
        merchant=partner.merchant, type="discount", params={"percent": "10", "currency": "CNY"}
    )
    voucher = VoucherFactory.create(perk=perk, member=JoinedMemberFactory.create())

    with CaptureQueriesContext(connection) as captured:
        response = partner.post(
            "/redemptions",
            {"code": code_format(voucher.code), "amount": "42.00", "currency": "CNY"},
            idempotency_key="citus-redemption",
        )

    assert response.status_code == 201, response.content
    assert Redemption.objects.filter(voucher=voucher).exists()
    statements = [query["sql"] for query in captured.captured_queries]
    assert any("vouchers_redemption" in sql for sql in statements), "the capture holds the redemption"
    found = {finding for sql in statements for finding in findings(sql)}
    assert found - set(KNOWN_REDEMPTION_FINDINGS) == set(), "a redemption statement Citus cannot route"
    assert set(KNOWN_REDEMPTION_FINDINGS) - found == set(), "fixed: drop it from the known findings"
