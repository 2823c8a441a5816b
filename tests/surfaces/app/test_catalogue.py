"""The Chinese catalogue leaves nothing of the app untranslated, and the compiled catalogue
the app reads is the one its translators wrote.

What counts as the app: every string whose references (`#:` lines) include a source other
than the merchant portal, the operator console and the partner API, so the app's templates,
views and mail, and the domain's words the app shows (reasons, tiers, perk types, errors).
A string only the portal, the console or the API uses may wait for its translation.
"""

import ast
import re

import polib
import pytest
from django.conf import settings

LOCALE = settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES"
PO = LOCALE / "django.po"
MO = LOCALE / "django.mo"
NOT_THE_APP = (
    "surfaces/portal/",
    "templates/portal/",
    "templates/admin/",
    "config/admin.py",
    "surfaces/api/",
)
APP_TEMPLATES = settings.BASE_DIR / "templates" / "app"
APP_CODE = settings.BASE_DIR / "surfaces" / "app"
# `{% translate "…" %}` with a literal and nothing after it but `as`/`noop`: the form an app
# template uses for a short label.
TEMPLATE_STRING = re.compile(
    r"""\{%\s*(?:translate|trans)\s+(?:"([^"]*)"|'([^']*)')\s*(?:noop\s*|as\s+\w+\s*)?%\}"""
)
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "gettext_noop"}


@pytest.fixture(scope="module")
def catalogue() -> polib.POFile:
    return polib.pofile(str(PO))


def is_the_apps(entry: polib.POEntry) -> bool:
    return any(not path.startswith(NOT_THE_APP) for path, _line in entry.occurrences)


def test_the_rule_tells_the_app_from_the_portal():
    def entry(*paths: str) -> polib.POEntry:
        return polib.POEntry(msgid="x", occurrences=[(path, "1") for path in paths])

    assert is_the_apps(entry("templates/app/home.html"))
    assert is_the_apps(entry("loyalty/scoring/explain.py"))
    assert is_the_apps(entry("templates/portal/home.html", "surfaces/app/wallet.py"))
    assert not is_the_apps(entry("templates/portal/home.html", "surfaces/portal/views.py"))
    assert not is_the_apps(entry("templates/admin/login_totp.html"))


def test_no_string_of_the_app_is_untranslated_or_fuzzy(catalogue):
    missing = [
        f"{entry.occurrences[0][0]}: {entry.msgid!r}"
        for entry in catalogue
        if not entry.obsolete and is_the_apps(entry) and (not entry.translated() or entry.fuzzy)
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
    for template in APP_TEMPLATES.glob("*"):
        for double, single in TEMPLATE_STRING.findall(template.read_text()):
            strings.add(double or single)
    return strings


def _code_strings() -> set[str]:
    strings = set()
    for module in APP_CODE.rglob("*.py"):
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


def test_the_apps_labels_are_in_the_catalogue(catalogue):
    """A label added to an app template or view after the last `make messages` is not in the
    catalogue at all, which the test above cannot see: this one reads the sources."""
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
    """The app reads django.mo: one compiled from an older django.po would show old words
    (`make messages` compiles it; compilemessages leaves fuzzy entries out, as here)."""
    compiled = polib.mofile(str(MO))
    assert _compiled(compiled) == _compiled(catalogue.translated_entries())
