"""A real browser for end-to-end tests: Playwright driving the machine's Chromium.

The browser is Debian's `chromium` (Playwright never downloads one here). Where it is not
installed, tests marked `browser` are skipped with a reason that says how to get it.
Chromium starts headless, with no network beyond the test server.
"""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    override = os.environ.get("CHROMIUM_PATH")
    if override:
        return override
    return next((path for name in CHROMIUM_CANDIDATES if (path := shutil.which(name))), None)


@contextmanager
def chromium() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        raise RuntimeError("no Chromium on this machine")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, login_url: str, email: str, password: str) -> None:
    """Sign in through a login page as a person would: the app's and the portal's are alike."""
    page.goto(login_url)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def screenshot(page: Page, name: str) -> None:
    """Keep what the page looks like now as a test artifact: var/screenshots/<name>.png."""
    folder = settings.VAR_DIR / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def htmx_ready(page: Page) -> None:
    """A test is quicker than a person: before it changes a field that htmx listens to,
    wait until the page has loaded and htmx has started (it binds its triggers when the
    document is ready), or the change goes by unheard."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.htmx !== undefined")
