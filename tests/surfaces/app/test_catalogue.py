"""The Chinese catalogue leaves nothing of the app or the merchant portal untranslated, and
the compiled catalogue they read is the one its translators wrote.

What must be translated: every string whose references (`#:` lines) include a source other
than the operator console and the partner API, so the app's and the portal's templates,
views and mail, and the domain's words they show (reasons, tiers, perk types, errors). A
string only the console or the API uses may wait for its translation: the operators and
the partners' developers read English.
"""

import ast
import re

import polib
import pytest
from django.conf import settings

LOCALE = settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES"
PO = LOCALE / "django.po"
MO = LOCALE / "django.mo"
MAY_WAIT = (
    "templates/admin/",
    "config/admin.py",
    "surfaces/api/",
)
# Where the labels of the surfaces people read in Chinese are written.
TEMPLATES = [settings.BASE_DIR / "templates" / surface for surface in ("app", "portal", "forms")]
CODE = [settings.BASE_DIR / "surfaces" / surface for surface in ("app", "portal")]
# `{% translate "…" %}` with a literal and nothing after it but `as`/`noop`: the form an app
# template uses for a short label.
TEMPLATE_STRING = re.compile(
    r"""\{%\s*(?:translate|trans)\s+(?:"([^"]*)"|'([^']*)')\s*(?:noop\s*|as\s+\w+\s*)?%\}"""
)
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "gettext_noop"}


@pytest.fixture(scope="module")
def catalogue() -> polib.POFile:
    return polib.pofile(str(PO))


def must_be_translated(entry: polib.POEntry) -> bool:
    return any(not path.startswith(MAY_WAIT) for path, _line in entry.occurrences)


def test_the_rule_tells_the_app_and_the_portal_from_the_console_and_the_api():
    def entry(*paths: str) -> polib.POEntry:
        return polib.POEntry(msgid="x", occurrences=[(path, "1") for path in paths])

    assert must_be_translated(entry("templates/app/home.html"))
    assert must_be_translated(entry("loyalty/scoring/explain.py"))
    assert must_be_translated(entry("templates/portal/home.html"))
    assert must_be_translated(entry("surfaces/portal/views.py", "surfaces/api/views.py"))
    assert not must_be_translated(entry("surfaces/api/views.py", "config/admin.py"))
    assert not must_be_translated(entry("templates/admin/login_totp.html"))


def test_no_string_of_the_app_or_the_portal_is_untranslated_or_fuzzy(catalogue):
    missing = [
        f"{entry.occurrences[0][0]}: {entry.msgid!r}"
        for entry in catalogue
        if not entry.obsolete and must_be_translated(entry) and (not entry.translated() or entry.fuzzy)
    ]
    assert not missing, "translate these in locale/zh_Hans/LC_MESSAGES/django.po:\n" + "\n".join(missing)


def test_every_plural_has_its_one_chinese_form(catalogue):
    for entry in catalogue.translated_entries():
        if entry.msgid_plural:
            assert list(entry.msgstr_plural) == [0], entry.msgid


def test_placeholders_survive_translation(catalogue):
    placeholder = re.compile(r"%\((\w+)\)[sd]|\{\{\s*(\w+)\s*\}\}|%[sd]")
    for entry in catalogue.translated_entries():
        wanted = sorted(placeholder.findall(entry.msgid_plural or entry.msgid))
        for written in [entry.msgstr] if not entry.msgid_plural else entry.msgstr_plural.values():
            assert sorted(placeholder.findall(written)) == wanted, entry.msgid


def _template_strings() -> set[str]:
    strings = set()
    for template in (path for folder in TEMPLATES for path in folder.glob("*")):
        for double, single in TEMPLATE_STRING.findall(template.read_text()):
            strings.add(double or single)
    return strings


def _code_strings() -> set[str]:
    strings = set()
    for module in (path for folder in CODE for path in folder.rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in GETTEXT_NAMES
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                strings.add(node.args[0].value)
    return strings


def test_the_labels_of_the_app_and_the_portal_are_in_the_catalogue(catalogue):
    """A label added to an app or portal template or view after the last `make messages` is
    not in the catalogue at all, which the test above cannot see: this one reads the sources."""
    translated = {entry.msgid for entry in catalogue.translated_entries() if not entry.msgctxt}
    sources = _template_strings() | _code_strings()
    assert len(sources) > 50
    missing = sorted(sources - translated)
    assert not missing, "run `make messages` and translate:\n" + "\n".join(missing)


def _compiled(entries: list[polib.POEntry] | polib.MOFile) -> dict[tuple[str, str, str], object]:
    return {
        (entry.msgctxt or "", entry.msgid, entry.msgid_plural or ""): (
            entry.msgstr if not entry.msgid_plural else tuple(sorted(entry.msgstr_plural.items()))
        )
        for entry in entries
        if entry.msgid
    }


def test_the_compiled_catalogue_is_the_translated_one(catalogue):
    """The app and the portal read django.mo: one compiled from an older django.po would show old words
    (`make messages` compiles it; compilemessages leaves fuzzy entries out, as here)."""
    compiled = polib.mofile(str(MO))
    assert _compiled(compiled) == _compiled(catalogue.translated_entries())
