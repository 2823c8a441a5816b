"""Under CI=true a skipped `browser` or `postgres` test fails the run (tests/support/ci.py),
in one process and across xdist's workers, and nothing else changes: a separate pytest
runs a planted module with the hook as its conftest has it."""

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]

PLANTED = """
import pytest

@pytest.mark.browser
def test_browser():
    pytest.skip("needs Chromium")

@pytest.mark.postgres
@pytest.mark.skip(reason="needs PostgreSQL")
def test_postgres():
    pass

@pytest.mark.browser
def test_browser_that_ran():
    pass

@pytest.mark.browser
@pytest.mark.xfail(reason="known", strict=True)
def test_browser_expected_to_fail():
    raise AssertionError

def test_other():
    pytest.skip("not ours to insist on")
"""


@pytest.fixture
def planted(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest("from tests.support.ci import pytest_runtest_makereport  # noqa: F401\n")
    pytester.makeini("[pytest]\nmarkers =\n    browser: b\n    postgres: p\n")
    pytester.makepyfile(test_planted=PLANTED)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A separate pytest without the plugins this check has no use for (they are slow to load)."""
    plugins = ("no:django", "no:cacheprovider", "no:schemathesis", "no:hypothesispytest")
    return pytester.runpytest_subprocess(
        *(arg for plugin in plugins for arg in ("-p", plugin)), "-rfEs", *args
    )


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one process", "xdist"])
def test_on_ci_a_skipped_browser_or_postgres_test_fails(planted, monkeypatch, workers):
    monkeypatch.setenv("CI", "true")
    result = run(planted, *workers)
    # A skip in the test's body fails it; a skip marker, which acts at setup, is an error.
    result.assert_outcomes(failed=1, errors=1, passed=1, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "FAILED *::test_browser - CI=true, and this `browser` test was skipped: needs Chromium.*",
            "ERROR *::test_postgres - CI=true, and this `postgres` test was skipped: needs PostgreSQL.*",
        ],
        consecutive=False,
    )


def test_elsewhere_they_skip(planted, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = run(planted)
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
