"""The app as an installable phone app: its manifest and icons, its service worker's script
and the offline page (the worker itself, in a browser: test_offline.py)."""

import json
import math
import re
import shutil
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from surfaces.app import pwa
from tests.factories import JoinedMemberFactory

pytestmark = pytest.mark.django_db


def _manifest(client, **headers):
    response = client.get(reverse("app:manifest"), **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    return json.loads(response.content)


def _worker(client, **headers):
    response = client.get(reverse("app:sw"), **headers)
    assert response.status_code == 200
    return response


def _constant(script: str, name: str) -> Any:
    """A constant the worker's script declares: `const NAME = <JSON>;`."""
    found = re.search(rf"^const {name} = (.+);$", script, re.MULTILINE)
    assert found, f"sw.js declares no {name}"
    return json.loads(found.group(1))


def _static_file(url: str) -> str:
    assert url.startswith(settings.STATIC_URL)
    path = finders.find(url.removeprefix(settings.STATIC_URL))
    assert path, f"{url} is no static file"
    return str(path)


def test_the_manifest_makes_an_installable_app_of_the_app_alone(client):
    manifest = _manifest(client)

    assert manifest["name"]
    assert manifest["short_name"] == "Perkline"
    assert manifest["start_url"] == manifest["scope"] == "/app/"
    assert manifest["display"] == "standalone"
    # The colours are the stylesheet's own tokens.
    with open(_static_file(settings.STATIC_URL + "css/app.css")) as file:
        stylesheet = file.read()
    assert f"--brand: {manifest['theme_color']};" in stylesheet
    assert f"--bg: {manifest['background_color']};" in stylesheet


def test_the_manifest_speaks_the_visitors_language(client):
    assert _manifest(client, HTTP_ACCEPT_LANGUAGE="en")["lang"] == "en"
    assert _manifest(client, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")["lang"] == "zh-hans"


def test_each_icon_is_a_png_of_the_size_it_claims(client):
    icons = _manifest(client)["icons"]

    for icon in icons:
        assert icon["type"] == "image/png"
        with Image.open(_static_file(icon["src"])) as image:
            assert image.format == "PNG"
            assert f"{image.width}x{image.height}" == icon["sizes"]
    sizes = {(icon["sizes"], icon["purpose"]) for icon in icons}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes


def test_the_maskable_icon_fills_its_square_and_keeps_its_mark_in_the_safe_zone(client):
    (icon,) = [icon for icon in _manifest(client)["icons"] if icon["purpose"] == "maskable"]
    with Image.open(_static_file(icon["src"])) as image:
        rgba = image.convert("RGBA")
    size = rgba.width
    pixels: list[Any] = list(rgba.get_flattened_data())
    background = pixels[0]
    safe_radius = 0.4 * size  # what every launcher's mask leaves whole
    centre = (size - 1) / 2

    assert rgba.getchannel("A").getextrema() == (255, 255)  # full bleed: the launcher cuts the shape
    mark = [divmod(index, size) for index, pixel in enumerate(pixels) if pixel != background]
    assert len(mark) > size * size // 20  # there is a mark to see
    assert max(math.dist((y, x), (centre, centre)) for y, x in mark) <= safe_radius


def test_the_icons_are_the_ones_the_script_draws():
    from demo.icons import ICONS, icon

    for name, (size, maskable) in ICONS.items():
        with Image.open(_static_file(f"{settings.STATIC_URL}app/{name}")) as committed:
            assert committed.convert("RGBA").tobytes() == icon(size, maskable=maskable).tobytes(), (
                f"static/app/{name} is not what demo/icons.py draws: run `make icons`"
            )


def test_the_worker_is_a_script_asked_for_again_on_every_visit(client):
    response = _worker(client)

    assert response["Content-Type"].startswith("text/javascript")
    assert "no-cache" in response["Cache-Control"]
    assert "worker-src 'self'" in response["Content-Security-Policy"]


def test_the_worker_keeps_the_shell_and_the_offline_page_but_never_the_pass(client):
    script = _worker(client).content.decode()
    shell = _constant(script, "SHELL")

    assert reverse("app:offline") in shell
    for name in ("css/app.css", "js/app/sw-register.js", "app/icon-192.png", "django_htmx/htmx-2.min.js"):
        assert settings.STATIC_URL + name in shell
    for url in shell:
        if url != reverse("app:offline"):
            _static_file(url)
    assert _constant(script, "WALLET_URL") == reverse("app:wallet")
    assert reverse("app:pass") not in script


def test_the_worker_lists_the_hashed_names_the_pages_load(client, settings, tmp_path):
    settings.STATIC_ROOT = str(tmp_path / "static")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "config.staticfiles.HashedStaticFilesStorage"},
    }
    call_command(
        "collectstatic",
        interactive=False,
        verbosity=0,
        ignore_patterns=["admin", "rest_framework", "drf_spectacular_sidecar"],
    )
    page = client.get(reverse("app:offline")).content.decode()
    shell = _constant(_worker(client).content.decode(), "SHELL")

    linked = re.search(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert linked
    stylesheet = linked.group(1)
    assert re.fullmatch(r"/static/css/app\.[0-9a-f]{12}\.css", stylesheet)
    assert stylesheet in shell
    for script in re.findall(r'<script src="([^"]+)"', page):
        assert script in shell
    for url in shell:
        if url != reverse("app:offline"):
            assert re.search(r"\.[0-9a-f]{12}\.\w+$", url), url
            assert (tmp_path / "static" / url.removeprefix(settings.STATIC_URL)).is_file()


def test_the_workers_version_moves_with_the_shells_content_and_language(client, settings, tmp_path):
    copy = tmp_path / "static"
    shutil.copytree(settings.STATICFILES_DIRS[0], copy)
    settings.STATICFILES_DIRS = [copy]

    def version(**headers):
        return _constant(_worker(client, **headers).content.decode(), "VERSION")

    first = version()
    assert version() == first  # the same files, the same worker: browsers keep it
    with (copy / "css" / "app.css").open("a") as stylesheet:
        stylesheet.write("\n/* changed */\n")
    assert version() != first
    assert version(HTTP_ACCEPT_LANGUAGE="zh-CN") != version(HTTP_ACCEPT_LANGUAGE="en")
    assert pwa.shell_names() == sorted(pwa.shell_names())


def test_the_offline_page_needs_no_sign_in_and_never_makes_the_worker_forget(client):
    response = client.get(reverse("app:offline"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "You are offline. Your wallet and vouchers you've opened are available." in page
    assert f'href="{reverse("app:wallet")}"' in page
    assert "data-signed-out" not in page


def test_signed_out_pages_tell_the_worker_to_forget_what_it_kept(client):
    assert "data-signed-out" in client.get(reverse("app:login")).content.decode()

    client.force_login(JoinedMemberFactory.create().user)
    wallet = client.get(reverse("app:wallet")).content.decode()
    assert "data-signed-out" not in wallet
    assert f'data-worker="{reverse("app:sw")}"' in wallet
    assert f'<link rel="manifest" href="{reverse("app:manifest")}">' in wallet
