"""axe-core, the accessibility checker, run in a page a browser test has open.

axe-core comes from npm at set-up (`make browser-libs`, pinned in package-lock.json), never
at test time. Where it was not installed a test that needs it skips, saying how to get it;
under CI=true it fails instead (tests/support/ci.py).

The page keeps its Content-Security-Policy: axe's source is evaluated through the browser's
debugging protocol, which the policy does not govern, rather than added as an inline
`<script>`, which it would refuse.
"""

from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page

from tests.support.ci import on_ci

AXE_JS = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")

RUN_AXE = """async () => {
    const results = await axe.run(document, {resultTypes: ["violations"]});
    return results.violations.map(v => ({
        rule: v.id, impact: v.impact, help: v.help,
        targets: v.nodes.map(node => node.target.join(" ")),
    }));
}"""


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    targets: list[str]

    def __str__(self) -> str:
        shown = ", ".join(self.targets[:3]) + (
            f" and {len(self.targets) - 3} more" if len(self.targets) > 3 else ""
        )
        return f"{self.rule} ({self.impact}): {self.help} — {shown}"


def axe_source() -> str:
    """The text of axe.min.js; a test without it skips (fails under CI=true)."""
    if not AXE_JS.exists():
        reason = "needs axe-core from npm: run `make browser-libs` (part of `make venv`; needs npm)"
        if on_ci():
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    return AXE_JS.read_text()


def serious_violations(page: Page, source: str | None = None) -> list[Violation]:
    """What axe finds serious or critical on the page as it is now."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(source or axe_source())
    found = page.evaluate(RUN_AXE)
    return [Violation(**item) for item in found if item["impact"] in SERIOUS]
