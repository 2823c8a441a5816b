"""Logos and perk images are served to any page, for a year; nothing else under media is."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from perks.vouchers.codes import code_generate
from perks.vouchers.qr import qr_image

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.mark.parametrize(
    "name",
    [
        "perks/prk_1a2b/3f9c.png",
        "perks/prk_1a2b/3f9c.w640.png",
        "perks/old.jpg",
        "merchants/mch_9z/logo/a1b2.webp",
        "merchants/logos/brew.png",
    ],
)
def test_images_are_served_with_a_long_life(client, name):
    default_storage.save(name, ContentFile(PNG))

    response = client.get(f"/media/{name}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/")
    assert b"".join(response.streaming_content) == PNG
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"


def test_voucher_qr_images_are_never_served(client):
    image = qr_image(code=code_generate(), kind="png")

    assert default_storage.exists(image.name)
    assert client.get(image.url).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/media/perks/missing.png",
        "/media/perks/prk_1/../../vouchers/qr/x.png",
        "/media/perks/prk_1/notes.txt",
        "/media/merchants/mch_1/contract.png",
    ],
)
def test_anything_else_is_not_found(client, path):
    default_storage.save("merchants/mch_1/contract.png", ContentFile(PNG))

    assert client.get(path).status_code == 404
