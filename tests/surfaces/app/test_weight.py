"""What a phone downloads for the first view after sign-in, cold, as `make demo` serves the
app: the static files collected, hashed and gzipped, WhiteNoise serving them from
STATIC_ROOT (config/staticfiles.py), not the test server's handler of static/.

Everything the page fetches is counted as it came over the wire (Chromium's
`encodedDataLength`: headers and the compressed body), in a browser that has never seen the
app: the session is the one a sign-in gave, its cookies carried to a fresh context. The
figure is kept in var/weight/first-view.json beside the screenshot.
"""

import json
import re
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test.testcases import LiveServerThread
from django.urls import reverse
from playwright.sync_api import Browser, BrowserContext, Request

from loyalty.points.services import points_adjust
from tests.factories import HoldFactory, JoinedMemberFactory, PerkFactory, UserFactory, VoucherFactory
from tests.support.browser import chromium, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
EMAIL = "mei@example.test"
BUDGET_BYTES = 100 * 1024
HASHED = re.compile(r"\.[0-9a-f]{12}\.\w+$")
# Types WhiteNoise compresses (it leaves images and fonts that are compressed already).
COMPRESSIBLE = re.compile(r"^text/|javascript|json|svg|manifest")
TIMEOUT_MS = 15_000
# Resolves once the service worker the page registered is active, its shell fetched (at
# once where the page registered none), and within ten seconds whatever happens.
SERVICE_WORKER_READY = """() => new Promise(resolve => {
    setTimeout(() => resolve(false), 10000);
    if (!navigator.serviceWorker) return resolve(false);
    navigator.serviceWorker.getRegistration().then(registration => {
        if (!registration) return resolve(false);
        navigator.serviceWorker.ready.then(() => resolve(true));
    });
})"""


@pytest.fixture
def demo_static(settings, tmp_path):
    """The static files of `make demo` and production: collected into STATIC_ROOT, hashed
    and gzipped, and served by WhiteNoise from there alone; under debug, as the demo runs."""
    settings.DEBUG = True
    settings.STATIC_ROOT = str(tmp_path / "static")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "config.staticfiles.HashedStaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = False
    settings.WHITENOISE_AUTOREFRESH = False
    call_command("collectstatic", "--noinput", verbosity=0)


def _as_it_is(app: Any) -> Any:
    """The app with no test handler of static files in front of it: WhiteNoise serves them."""
    return app


@pytest.fixture
def demo_server(demo_static, transactional_db):
    """The app served whole on a free port, WhiteNoise included."""
    thread = LiveServerThread("127.0.0.1", static_handler=_as_it_is)  # type: ignore[arg-type]
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


def _phone(browser: Browser) -> BrowserContext:
    return browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")


def _first_view(browser: Browser, base: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Sign in, then open the first view in a fresh context with that session: every
    response the page fetched, with its bytes on the wire; and what the service worker
    fetched as it installed (kept for the record: it is the offline copy, not the view)."""
    signing_in = _phone(browser)
    page = signing_in.new_page()
    sign_in(page, f"{base}{reverse('app:login')}", EMAIL, PASSWORD)
    page.wait_for_url(f"{base}{reverse('app:home')}")
    session = signing_in.cookies()
    signing_in.close()

    cold = _phone(browser)
    cold.set_default_timeout(TIMEOUT_MS)
    cold.add_cookies(session)  # type: ignore[arg-type]
    page = cold.new_page()
    network = cold.new_cdp_session(page)
    responses: dict[str, dict[str, Any]] = {}
    finished: dict[str, int] = {}
    worker_fetched: list[dict[str, Any]] = []

    def received(event: dict[str, Any]) -> None:
        response = event["response"]
        headers = {name.lower(): value for name, value in response["headers"].items()}
        responses[event["requestId"]] = {
            "url": response["url"],
            "type": response.get("mimeType", ""),
            "encoding": headers.get("content-encoding", ""),
            "from_cache": response.get("fromDiskCache", False),
        }

    def loaded(event: dict[str, Any]) -> None:
        finished[event["requestId"]] = int(event["encodedDataLength"])

    def by_the_worker(request: Request) -> None:
        if request.service_worker is not None:
            worker_fetched.append({"url": request.url, **request.sizes()})

    network.on("Network.responseReceived", received)
    network.on("Network.loadingFinished", loaded)
    network.send("Network.enable")
    cold.on("requestfinished", by_the_worker)
    page.goto(f"{base}{reverse('app:home')}", wait_until="networkidle")
    page.evaluate(SERVICE_WORKER_READY)
    screenshot(page, "weight-first-view")
    fetched = [{**responses[key], "bytes": size} for key, size in finished.items() if key in responses]
    return fetched, worker_fetched


def test_the_first_view_after_sign_in_weighs_at_most_100_kb_with_static_files_compressed(
    demo_server,
):
    member = JoinedMemberFactory.create(user=UserFactory.create(email=EMAIL))
    points_adjust(member=member, points=1_480, note="welcome", idempotency_key="welcome", actor="test")
    VoucherFactory.create(member=member, perk=PerkFactory.create(title="Free flat white"))
    HoldFactory.create(member=member)

    with chromium() as browser:
        fetched, worker_fetched = _first_view(browser, demo_server)

    total = sum(item["bytes"] for item in fetched)
    static = [item for item in fetched if "/static/" in item["url"]]
    artifact = settings.VAR_DIR / "weight" / "first-view.json"
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_text(
        json.dumps(
            {"total_bytes": total, "fetched": fetched, "service_worker_fetched": worker_fetched}, indent=2
        )
        + "\n"
    )

    assert static, "the first view fetched no static file: the page is not what a member sees"
    assert not any(item["from_cache"] for item in fetched), "not cold: something came from the cache"
    unhashed = [item["url"] for item in static if not HASHED.search(item["url"].split("?")[0])]
    assert not unhashed, f"static files linked without their hash: {unhashed}"
    uncompressed = [
        item["url"]
        for item in static
        if COMPRESSIBLE.search(item["type"]) and item["encoding"] not in ("gzip", "br")
    ]
    assert not uncompressed, f"static files sent uncompressed: {uncompressed}"
    assert total <= BUDGET_BYTES, (
        f"the first view after sign-in transferred {total / 1024:.1f} KB, over {BUDGET_BYTES // 1024} KB: "
        + ", ".join(f"{item['url']} {item['bytes']}" for item in sorted(fetched, key=lambda i: -i["bytes"]))
    )
