"""The repository's Markdown holds together: every relative link leads to a file of the
repository (and to a heading of it, when it names one), nothing points outside the
repository, every code path a document cites exists, and the README stays a newcomer's page.

Only the text is read: no Django, no database.
"""

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Not the repository's own documents: environments, data, and tools' caches.
SKIPPED_DIRS = {
    ".venv",
    "var",
    "node_modules",
    ".git",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    ".import_linter_cache",
}
README_MAX_LINES = 130
README_OPENING_LINES = 40

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
# [text](target) and ![alt](target), with an optional "title"; the text may hold `code`.
LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# A path that climbs out of its directory, or names the sibling checkout `shared/`.
CLIMB = re.compile(r"(?:\.\./)+[\w./-]*")
SHARED = re.compile(r"(?<![\w.-])shared/")
# A code path a document cites: `loyalty/core/sql.py`, `tests/x/test_y.py::test_z`.
TOP_DIRS = ("config", "loyalty", "perks", "surfaces", "tests", "bench", "demo", "docs", "templates", "static")
CITED_PATH = re.compile(
    r"^(?:\./)?(?P<path>(?:" + "|".join(re.escape(d) for d in (*TOP_DIRS, ".ci")) + r")(?:/[\w.-]+)*/?)"
    r"(?P<tests>(?:::\w+)+)?$"
)


def markdown_files() -> list[Path]:
    found: list[Path] = []
    for directory, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        found.extend(Path(directory) / name for name in sorted(files) if name.endswith(".md"))
    return found


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line outside fenced code blocks."""
    lines: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lowercased, punctuation dropped (but `-`
    and `_`), spaces turned into hyphens."""
    text = LINK.sub(lambda m: m.group("text"), heading).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor of `path`'s headings, numbered as GitHub numbers repeats (-1, -2, …)."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def inside_root(path: Path) -> bool:
    resolved = Path(os.path.normpath(path))
    return resolved == ROOT or ROOT in resolved.parents


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def link_problems(path: Path) -> list[str]:
    problems = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        # Links written inside `code` are examples, not links.
        for match in LINK.finditer(CODE_SPAN.sub("", line)):
            target = match.group("target").strip("<>")
            if SCHEME.match(target):
                continue  # http:, https:, mailto:: not a file of the repository
            where = f"{relative(path)}:{number}: {target}"
            file_part, _, anchor = target.partition("#")
            if file_part.startswith("/"):
                problems.append(
                    f"{where}: a link from the root does not resolve on GitHub; write it relative"
                )
                continue
            linked = Path(os.path.normpath(path.parent / file_part)) if file_part else path
            if not inside_root(linked):
                problems.append(f"{where}: points outside the repository")
                continue
            if not linked.exists():
                problems.append(f"{where}: no such file")
                continue
            if anchor:
                if linked.suffix != ".md" or linked.is_dir():
                    problems.append(f"{where}: an anchor into something that is not a Markdown file")
                elif anchor not in anchors(linked):
                    problems.append(f"{where}: {relative(linked)} has no heading #{anchor}")
    return problems


def outside_problems(path: Path) -> list[str]:
    """Paths anywhere in the text, code blocks included, that lead out of the repository."""
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"{relative(path)}:{number}"
        for match in CLIMB.finditer(line):
            if not inside_root(path.parent / match.group(0)):
                problems.append(f"{where}: {match.group(0)!r} climbs out of the repository")
        if SHARED.search(line):
            problems.append(f"{where}: names shared/, which is not in a clone of the repository")
    return problems


def cited_path_problems(path: Path) -> list[str]:
    """Code paths cited in `backticks` exist; a cited test (`file.py::test_name`) is defined."""
    problems = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for span in CODE_SPAN.findall(line):
            match = CITED_PATH.match(span.strip())
            if match is None:
                continue
            where = f"{relative(path)}:{number}: {span}"
            cited = ROOT / match.group("path")
            if not cited.exists():
                problems.append(f"{where}: no such path")
                continue
            if match.group("tests"):
                name = match.group("tests").rsplit("::", 1)[1]
                if not re.search(rf"^\s*(?:async\s+)?def {re.escape(name)}\(", cited.read_text(), re.M):
                    problems.append(f"{where}: {match.group('path')} defines no {name}")
    return problems


def test_the_walk_finds_the_documents():
    names = {relative(path) for path in markdown_files()}
    assert {"README.md", "CONTRIBUTING.md", "docs/architecture.md"} <= names
    assert not any(name.startswith((".venv/", "var/")) for name in names)


def test_slugs_are_githubs():
    assert slug("Running in production") == "running-in-production"
    assert slug("The partner API: `/api/v1/`") == "the-partner-api-apiv1"
    assert slug("Invariants (money-grade)") == "invariants-money-grade"
    assert slug("snake_case and CAPS") == "snake_case-and-caps"


def test_the_checks_find_what_they_are_for(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A heading\n\ndef test_here():\n")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/a.md#a-heading) [gone](docs/b.md) [anchor](docs/a.md#nope) [out](../x.md)\n"
        "`../shared/DESIGN.md` `docs/a.md::test_here` `docs/c.md` `docs/a.md::test_gone` `[no](link.md)`\n"
        "```\n[fenced](nowhere.md)\n```\n"
    )
    assert [problem.split(": ", 1)[1] for problem in link_problems(page)] == [
        "docs/b.md: no such file",
        "docs/a.md#nope: docs/a.md has no heading #nope",
        "../x.md: points outside the repository",
    ]
    outside = outside_problems(page)
    assert len(outside) == 3
    assert sum("shared/" in problem for problem in outside) == 2  # climbing to it, and naming it
    assert [problem.rsplit(": ", 1)[1] for problem in cited_path_problems(page)] == [
        "no such path",
        "docs/a.md defines no test_gone",
    ]


@pytest.mark.parametrize("path", markdown_files(), ids=relative)
def test_every_relative_link_resolves_inside_the_repository(path):
    problems = link_problems(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", markdown_files(), ids=relative)
def test_no_path_points_outside_the_repository(path):
    problems = outside_problems(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", markdown_files(), ids=relative)
def test_every_cited_code_path_and_test_exists(path):
    problems = cited_path_problems(path)
    assert not problems, "\n".join(problems)


def test_the_readme_is_a_newcomers_page():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; at most {README_MAX_LINES}"
    opening = "\n".join(lines[:README_OPENING_LINES])
    for command in ("make demo", "make test"):
        assert command in opening, (
            f"README.md must show `{command}` in its first {README_OPENING_LINES} lines"
        )
