"""Only PNG, JPEG and WebP are opened; bombs, truncated and lying files are refused cleanly."""

import io
import logging
import struct
import time
import zlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image
from PIL.WebPImagePlugin import WebPImageFile

from perks.merchants import images
from perks.merchants.errors import ImageRefused
from perks.merchants.images import RENDITION_SIZES, image_clean, rendition_name, renditions_make
from perks.merchants.models import AuditEntry, Merchant
from perks.merchants.services import merchant_logo_set
from perks.merchants.tasks import image_renditions_make
from tests.support.celery import running_worker


def encoded(fmt: str, size=(40, 30), mode="RGB", **options) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 60, 128)[: len(mode)] if mode != "1" else 1).save(
        out, format=fmt, **options
    )
    return out.getvalue()


def noisy_png(size=(256, 256)) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", size, bytes(range(256)) * (size[0] * size[1] * 3 // 256)).save(out, format="PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose header claims `width` by `height` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def lossless_webp(width: int, height: int) -> bytes:
    """One colour, losslessly: a few hundred bytes however many pixels it claims."""
    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, "WEBP", lossless=True)
    return out.getvalue()


def camera_jpeg() -> bytes:
    """A portrait photo as a phone stores it: landscape pixels, rotation and GPS in EXIF."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0)}  # GPS latitude
    return encoded("JPEG", size=(60, 20), exif=exif.tobytes())


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_the_three_formats_are_accepted_and_kept_in_their_format(fmt):
    clean = image_clean(encoded(fmt))

    assert clean.format == fmt
    assert (clean.width, clean.height) == (40, 30)
    assert Image.open(io.BytesIO(clean.content)).format == fmt


def test_exif_is_stripped_and_the_picture_turned_upright():
    original = camera_jpeg()
    assert Image.open(io.BytesIO(original)).getexif()  # the test's photo does carry EXIF

    clean = image_clean(original)

    stored = Image.open(io.BytesIO(clean.content))
    assert not stored.getexif()
    assert "exif" not in stored.info
    assert b"PhoneMaker" not in clean.content
    assert stored.size == (20, 60)


def test_transparency_survives_in_png_and_webp():
    for fmt in ("PNG", "WEBP"):
        clean = image_clean(encoded(fmt, mode="RGBA"))
        assert Image.open(io.BytesIO(clean.content)).mode == "RGBA"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (png_claiming(4001, 4000), "too many pixels"),  # just past our limit
        (png_claiming(6000, 5000), "too many pixels"),  # past Pillow's warning, set to ours
        (png_claiming(20000, 20000), "too many pixels"),  # past Pillow's refusal, twice ours
        (png_claiming(100000, 100000), "too many pixels"),
    ],
    ids=["16.004-megapixels", "30-megapixels", "400-megapixels", "10-gigapixels"],
)
def test_a_decompression_bomb_is_refused_before_it_is_decoded(content, message):
    assert len(content) < 200

    with pytest.raises(ImageRefused, match=message) as refused:
        image_clean(content, param="logo")

    assert refused.value.param == "logo"


def _never_decoded(self):
    raise AssertionError("the image was decoded")


def test_a_1_kb_lossless_webp_of_24_megapixels_is_refused_without_being_decoded(monkeypatch):
    content = lossless_webp(6000, 4000)
    assert len(content) < 1024
    monkeypatch.setattr(WebPImageFile, "load", _never_decoded)

    with pytest.raises(ImageRefused, match="too many pixels") as refused:
        image_clean(content, param="image")

    assert refused.value.param == "image"


def test_an_image_of_16_megapixels_is_taken():
    clean = image_clean(lossless_webp(4000, 4000))

    assert (clean.width, clean.height) == (4000, 4000)


def test_a_truncated_png_is_refused():
    whole = noisy_png()
    Image.open(io.BytesIO(whole)).load()  # the whole file is a good image

    with pytest.raises(ImageRefused, match="truncated or damaged"):
        image_clean(whole[: len(whole) // 2])


def test_a_png_with_a_damaged_chunk_is_refused():
    whole = bytearray(noisy_png())
    whole[60] ^= 0xFF

    with pytest.raises(ImageRefused, match="truncated or damaged"):
        image_clean(bytes(whole))


@pytest.mark.parametrize(
    "content",
    [
        b"This is a text file that someone named logo.png\n",
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        encoded("GIF"),
        encoded("BMP"),
        encoded("TIFF"),
    ],
    ids=["text-named-png", "svg", "gif", "bmp", "tiff"],
)
def test_files_that_are_not_png_jpeg_or_webp_are_refused(content):
    with pytest.raises(ImageRefused, match="not a PNG, JPEG or WebP image"):
        image_clean(io.BytesIO(content))


def test_an_empty_or_oversized_file_is_refused():
    with pytest.raises(ImageRefused, match="empty"):
        image_clean(b"")
    with pytest.raises(ImageRefused, match="larger than"):
        image_clean(io.BytesIO(b"\0" * (images.MAX_UPLOAD_BYTES + 1)))


def test_renditions_are_made_only_where_missing(media):
    name = images.image_store(clean=image_clean(encoded("PNG", size=(800, 400))), directory="merchants/test")

    made = renditions_make(name=name, kind="logo")
    assert sorted(made) == sorted(rendition_name(name, size) for size in RENDITION_SIZES["logo"])
    for size in RENDITION_SIZES["logo"]:
        with default_storage.open(rendition_name(name, size)) as stored:
            assert max(Image.open(stored).size) == size

    default_storage.delete(rendition_name(name, 128))
    kept = {size: default_storage.get_modified_time(rendition_name(name, size)) for size in (64, 256)}

    assert renditions_make(name=name, kind="logo") == [rendition_name(name, 128)]
    assert renditions_make(name=name, kind="logo") == []
    assert kept == {size: default_storage.get_modified_time(rendition_name(name, size)) for size in (64, 256)}


def test_renditions_never_enlarge_a_small_image(media):
    name = images.image_store(clean=image_clean(encoded("PNG", size=(50, 20))), directory="merchants/test")

    renditions_make(name=name, kind="logo")

    with default_storage.open(rendition_name(name, 256)) as stored:
        assert Image.open(stored).size == (50, 20)


@pytest.mark.django_db(transaction=True)
def test_a_new_logo_is_stored_clean_and_its_sizes_made_by_the_worker(media, merchant, owner):
    with running_worker():
        merchant_logo_set(merchant=merchant, actor=owner, upload=io.BytesIO(camera_jpeg()))
        name = Merchant.objects.get(pk=merchant.pk).logo.name
        wait_for = [rendition_name(name, size) for size in RENDITION_SIZES["logo"]]
        _wait(lambda: all(default_storage.exists(n) for n in wait_for))

        merchant_logo_set(merchant=merchant, actor=owner, upload=encoded("PNG"))
        _wait(lambda: not default_storage.exists(name))

    assert name.startswith(f"merchants/{merchant.ref}/logo/")
    assert not any(default_storage.exists(n) for n in wait_for)  # the old logo's sizes went with it
    assert AuditEntry.objects.filter(merchant=merchant, action="merchant.logo_set").count() == 2


@pytest.mark.django_db
def test_a_refused_logo_changes_nothing(media, merchant, owner):
    with pytest.raises(ImageRefused):
        merchant_logo_set(merchant=merchant, actor=owner, upload=b"not an image")

    assert not Merchant.objects.get(pk=merchant.pk).logo
    assert not AuditEntry.objects.filter(merchant=merchant).exists()


def _wait(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        time.sleep(0.1)


def test_image_url_serves_the_original_until_its_rendition_exists(media):
    name = images.image_store(clean=image_clean(encoded("PNG", size=(800, 400))), directory="perks/test")

    assert images.image_url(name, kind="perk", size=600) == default_storage.url(name)
    renditions_make(name=name, kind="perk")
    assert images.image_url(name, kind="perk", size=600) == default_storage.url(rendition_name(name, 640))
    assert images.image_url(name, kind="perk", size=5000) == default_storage.url(rendition_name(name, 1280))


def _stored(content: bytes) -> str:
    """An image stored as it came, as one uploaded before today's checks would be."""
    return default_storage.save("perks/test/old.webp", ContentFile(content))


def test_a_stored_bomb_is_refused_by_the_task_in_its_child_process(media, caplog):
    name = _stored(lossless_webp(6000, 4000))

    with caplog.at_level(logging.ERROR, logger="perks.merchants.images"):
        assert image_renditions_make(name, "perk") == []

    assert "DecompressionBomb" in caplog.text
    assert not any(default_storage.exists(rendition_name(name, size)) for size in RENDITION_SIZES["perk"])


def test_an_image_past_the_memory_limit_ends_the_child_not_the_worker(media, settings, caplog):
    """16 megapixels of lossless WebP pass the pixel checks and need some 300 MB to decode:
    under a 128 MB limit the child runs out of memory; the task, and this process, go on
    (the test runs the task in this process, as a worker's thread would)."""
    settings.IMAGE_RENDITION_MEMORY_MB = 128
    name = _stored(lossless_webp(4000, 4000))

    with caplog.at_level(logging.ERROR, logger="perks.merchants.images"):
        assert image_renditions_make(name, "perk") == []

    assert f"renditions of {name} not made" in caplog.text
    settings.IMAGE_RENDITION_MEMORY_MB = 512  # the default: the same image is made then
    assert len(image_renditions_make(name, "perk")) == len(RENDITION_SIZES["perk"])


@pytest.mark.django_db
def test_the_console_shows_why_a_logo_is_refused(admin_client, merchant, media):
    upload = ContentFile(lossless_webp(6000, 4000), name="huge.webp")

    response = admin_client.post(
        reverse("admin:merchants_merchant_change", args=[merchant.pk]),
        {"name": merchant.name, "new_logo": upload},
    )

    assert response.status_code == 200
    assert "too many pixels" in str(response.context["adminform"].form.non_field_errors())
    assert not Merchant.objects.get(pk=merchant.pk).logo
