"""The house rules that a folder listing cannot show: raw SQL lives in `sql.py` files only,
and every statement there names the ORM code it stands in for."""

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

from loyalty.core.sql import Statement

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "loyalty", "perks", "surfaces", "demo")
# A string that starts a statement, as a hand-written one does (keywords in capitals).
SQL = re.compile(r"^\s*\(?\s*(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|WITH \w+ AS|COPY \w+)\b")
SQL_CALLS = {"execute", "executemany", "raw", "extra", "RawSQL"}


def _sources() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and path.name != "sql.py"
    )


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def raw_sql_in(source: str) -> list[str]:
    """Where `source` writes SQL by hand: a statement in a string, or a call that runs one."""
    tree = ast.parse(source)
    skipped = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # an f-string: its text, with each field as a name
            skipped.update(id(part) for part in node.values)
            text = "".join(str(p.value) if isinstance(p, ast.Constant) else "t" for p in node.values)
            if SQL.match(text):
                found.append(f"line {node.lineno}: {text.strip()[:60]!r}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped:
            if SQL.match(node.value):
                found.append(f"line {node.lineno}: {node.value.strip()[:60]!r}")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in SQL_CALLS and (node.args or node.keywords):  # a pipeline's execute() runs no SQL
                found.append(f"line {node.lineno}: {name}(…)")
    return found


def test_the_detector_finds_what_it_is_for():
    assert sorted(raw_sql_in('cursor.execute("SELECT 1")')) == ["line 1: 'SELECT 1'", "line 1: execute(…)"]
    assert raw_sql_in('q = f"UPDATE {table} SET a = 1"') == ["line 1: 'UPDATE t SET a = 1'"]
    assert raw_sql_in('Model.objects.raw("x")')
    assert not raw_sql_in("pipeline.execute()")
    assert not raw_sql_in('def f():\n    """SELECT is only mentioned here."""\n')
    assert not raw_sql_in('message = "Select a perk"')


def test_raw_sql_lives_only_in_sql_modules_and_migrations():
    offenders = {
        str(path.relative_to(ROOT)): found for path in _sources() if (found := raw_sql_in(path.read_text()))
    }
    assert not offenders, f"raw SQL outside sql.py (move it to the app's sql.py): {offenders}"


def _sql_modules() -> list[str]:
    modules = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("sql.py")):
            modules.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return modules


@pytest.mark.parametrize("module_name", _sql_modules())
def test_every_written_out_statement_names_the_orm_code_it_replaces(module_name):
    module = importlib.import_module(module_name)
    statements = {name: value for name, value in vars(module).items() if isinstance(value, Statement)}
    for name, statement in statements.items():
        target_module, _, attribute = statement.replaces.partition(":")
        assert attribute, f"{module_name}.{name}.replaces is 'module:function', not {statement.replaces!r}"
        assert hasattr(importlib.import_module(target_module), attribute), (
            f"{module_name}.{name} replaces {statement.replaces}, which does not exist"
        )


def test_every_app_with_statements_tests_them_against_their_orm_form():
    for module_name in _sql_modules():
        module = importlib.import_module(module_name)
        names = [name for name, value in vars(module).items() if isinstance(value, Statement)]
        if not names:
            continue
        package, _, _ = module_name.rpartition(".")
        test_file = ROOT / "tests" / Path(*package.split(".")) / "test_sql.py"
        assert test_file.exists(), f"{module_name} has statements and no {test_file.relative_to(ROOT)}"
        text = test_file.read_text()
        missing = [name for name in names if name not in text]
        assert not missing, f"{test_file.relative_to(ROOT)} never compares {missing} with their ORM form"


def test_apps_are_discoverable_packages():
    assert all(importlib.import_module(p) for p in PACKAGES)
    assert list(pkgutil.iter_modules([str(ROOT / "surfaces")]))


DOMAIN_APPS = (
    "loyalty/members",
    "loyalty/scoring",
    "loyalty/points",
    "perks/merchants",
    "perks/catalog",
    "perks/vouchers",
    "perks/billing",
)
ROOMS = ("models", "services", "selectors", "errors", "tasks")
# A room an app goes without, and why (none does now: perks/catalog has the sweep of its
# perk images, whose tasks are the merchants').
WITHOUT: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize("app", DOMAIN_APPS)
def test_every_domain_app_has_the_same_rooms(app):
    missing = [
        room
        for room in ROOMS
        if (app, room) not in WITHOUT
        and not (ROOT / app / f"{room}.py").exists()
        and not (ROOT / app / room / "__init__.py").exists()
    ]
    assert not missing, f"{app} has no {missing} (docs/architecture.md: one shape per app)"
