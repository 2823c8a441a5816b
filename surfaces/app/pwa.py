"""The app as an installed phone app: its web app manifest, its service worker and the page
the worker shows when there is no connection.

The worker is served from /app/ so that its scope is the app and nothing else. It keeps
the shell (the app's stylesheet, scripts and icons, and the offline page) and, as the
member opens them, the wallet, each voucher page and its QR code, so that those open at a
counter with no signal. Everything else needs the server and says so. How it behaves is
in templates/app/sw.js; docs/operations.md ("The app offline") has what an operator sees.
"""

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

# Colours of static/css/app.css's tokens: --brand (the bars) and --bg (the page).
THEME_COLOUR = "#1f5bd6"
BACKGROUND_COLOUR = "#f4f6f9"

ICONS = (
    ("app/icon-192.png", "192x192", "any"),
    ("app/icon-512.png", "512x512", "any"),
    ("app/icon-maskable-512.png", "512x512", "maskable"),
)

# What every app page loads, kept by the worker when it installs: these files, and every
# file in these folders (icons, the tab bar's sprite, the app's scripts).
SHELL_FILES = ("css/app.css", "django_htmx/htmx-2.min.js")
SHELL_FOLDERS = ("app/", "js/app/")
OFFLINE_TEMPLATE = "app/offline.html"
# Seen signed out or not, the offline page never makes the worker forget the kept pages.
OFFLINE_CONTEXT = {"offline_page": True}


@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest, in the visitor's language (the name under the home-screen icon)."""
    app_root = reverse("app:home")
    return JsonResponse(
        {
            "name": _("Perkline perks and wallet"),
            "short_name": "Perkline",
            "description": _("Your score, your perks and the vouchers in your wallet, even offline."),
            "lang": get_language(),
            "id": app_root,
            "start_url": app_root,
            "scope": app_root,
            "display": "standalone",
            "orientation": "portrait",
            "theme_color": THEME_COLOUR,
            "background_color": BACKGROUND_COLOUR,
            "icons": [
                {"src": static(name), "sizes": sizes, "type": "image/png", "purpose": purpose}
                for name, sizes, purpose in ICONS
            ],
        },
        content_type="application/manifest+json",
        json_dumps_params={"ensure_ascii": False},
    )


@require_GET
@cache_control(no_cache=True)
def service_worker(request: HttpRequest) -> HttpResponse:
    """The worker's script. Asked for again on every visit (no-cache), and changed, so
    that browsers install it afresh, whenever a shell file or the offline page changes."""
    names = shell_names()
    shell = [static(name) for name in names]
    offline_url = reverse("app:offline")
    return render(
        request,
        "app/sw.js",
        {
            "version": _version(names, shell),
            "shell_json": json.dumps([*shell, offline_url]),
            "offline_url_json": json.dumps(offline_url),
            "wallet_url_json": json.dumps(reverse("app:wallet")),
            "logout_url_json": json.dumps(reverse("app:logout")),
        },
        content_type="text/javascript; charset=utf-8",
    )


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    """What the worker shows for a page it does not keep when there is no connection."""
    return render(request, OFFLINE_TEMPLATE, OFFLINE_CONTEXT)


def shell_names() -> list[str]:
    """The shell's static files, by the names templates give `{% static %}`."""
    names = set(SHELL_FILES)
    if settings.DEBUG:  # django-htmx adds its debug helper to the page then
        names.add("django_htmx/django-htmx.js")
    for path, _storage in finders.FileSystemFinder().list(["CVS", ".*", "*~"]):
        name = path.replace("\\", "/")
        if name.startswith(SHELL_FOLDERS):
            names.add(name)
    return sorted(names)


def _version(names: list[str], shell: list[str]) -> str:
    """Changes with any shell file's content and with the offline page (in this language)."""
    stamps = []
    for name, url in zip(names, shell, strict=True):
        path = finders.find(name)
        stat = Path(str(path)).stat()
        stamps.append((url, str(path), stat.st_size, stat.st_mtime_ns))
    offline_page = render_to_string(OFFLINE_TEMPLATE, OFFLINE_CONTEXT)
    return _digest(tuple(stamps), get_language(), hashlib.sha256(offline_page.encode()).hexdigest())[:16]


@lru_cache(maxsize=32)
def _digest(stamps: tuple[tuple[str, str, int, int], ...], language: str, offline_page_hash: str) -> str:
    """A hash of what the files hold, not of when they were written: every web server of
    one release gives the same worker. Read again only when a file's size or time moves."""
    digest = hashlib.sha256(f"{language}\n{offline_page_hash}".encode())
    for url, path, _size, _mtime in stamps:
        digest.update(url.encode())
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()
