"""Under CI, a test that could not run is a failure, not a skip.

Tests marked `browser`, `postgres` or `rabbitmq` skip where Chromium, PostgreSQL or
RabbitMQ is missing, which is right on a laptop and wrong on CI: a CI machine without
Chromium would pass while running none of the browser tests. With `CI=true` (as `.ci/run`
exports, and CI services set), such a skip fails the run and says why. The hook turns the
test's own report into a failure, so it holds in every xdist worker and the controller
only counts.
"""

import os
from collections.abc import Generator

import pytest

MUST_RUN_ON_CI = ("browser", "postgres", "rabbitmq")


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def _skip_reason(report: pytest.TestReport) -> str:
    """The reason a skip gave: pytest keeps it as (path, line, "Skipped: …")."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    marker = next((name for name in MUST_RUN_ON_CI if item.get_closest_marker(name)), None)
    # An expected failure is reported as skipped too, with `wasxfail`: it did run.
    if marker and on_ci() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = (
            f"CI=true, and this `{marker}` test was skipped: {_skip_reason(report)}. "
            f"CI must run every {' and '.join(MUST_RUN_ON_CI)} test (.ci/run installs Chromium and "
            "starts PostgreSQL; RabbitMQ runs on the CI machine); unset CI to let it skip."
        )
    return report
