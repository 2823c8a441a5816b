"""Logos and perk images: opened with care, cleaned, stored, and shown at a few sizes.

Only PNG, JPEG and WebP are ever handed to a decoder. An upload is refused, with a clear
`Invalid` error, when it is too big in bytes or in pixels (a decompression bomb: the
pixels are counted from the header, before any is decoded), cut short, damaged, or not
what it claims to be. What is kept is a re-encoding of the pixels alone, so EXIF
(camera, place, time) never reaches anyone. That re-encoding, and the display sizes made
later by a task (only those that are missing), both decode the image in a child process
whose memory is capped (`pixels`), never in the web process or the worker itself. A
sweep (`images_sweep`) does that task's work, and the deletion of a replaced image, when
the broker was down as they were queued.
"""

import io
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from perks.merchants import pixels
from perks.merchants.errors import ImageRefused
from perks.merchants.pixels import DECODERS, MAX_PIXELS, CleanImage

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# Far longer than the largest accepted image takes, well within a task's time limit.
RENDITIONS_TIMEOUT_SECONDS = 60
# Cleaning runs while the operator waits: the largest accepted image takes a few seconds.
CLEAN_TIMEOUT_SECONDS = 30

# Display sizes: the longest side of each rendition, per kind of image.
RENDITION_SIZES: dict[str, tuple[int, ...]] = {
    "logo": (64, 128, 256),
    "perk": (320, 640, 1280),
}


def image_clean(source: IO[bytes] | bytes, *, param: str = "image") -> CleanImage:
    """The upload re-encoded without metadata, or `ImageRefused` saying what is wrong."""
    data = _read_capped(source, param)
    try:
        # `open` reads the header only: the size is known, and checked, before any decoding.
        with Image.open(io.BytesIO(data), formats=DECODERS) as probe:
            _check_pixels(probe.size, param)
            probe.verify()
        return _clean_in_child(data, param)
    except UnidentifiedImageError:
        raise ImageRefused(_("This file is not a PNG, JPEG or WebP image."), param=param) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(param) from None
    except (OSError, SyntaxError, ValueError, EOFError, KeyError, IndexError, pixels.ImageDamaged) as exc:
        raise ImageRefused(
            _("This image is truncated or damaged; export it again and upload the new file."), param=param
        ) from exc


def _read_capped(source: IO[bytes] | bytes, param: str) -> bytes:
    data = source if isinstance(source, bytes) else source.read(MAX_UPLOAD_BYTES + 1)
    if not data:
        raise ImageRefused(_("The file is empty."), param=param)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRefused(
            _("The file is larger than %(limit)d MB.") % {"limit": MAX_UPLOAD_BYTES // (1024 * 1024)},
            param=param,
        )
    return data


def _check_pixels(size: tuple[int, int], param: str) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageRefused(_("This image has no pixels."), param=param)
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(param, size)


def _too_many_pixels(param: str, size: tuple[int, int] | None = None) -> ImageRefused:
    limit = {"limit": MAX_PIXELS // 1_000_000}
    if size is None:
        message = _("This image has too many pixels: at most %(limit)d megapixels.") % limit
    else:
        message = _(
            "This image has too many pixels (%(width)d×%(height)d): at most %(limit)d megapixels; "
            "make it smaller and upload it again."
        ) % {"width": size[0], "height": size[1], **limit}
    return ImageRefused(message, param=param)


def _clean_in_child(data: bytes, param: str) -> CleanImage:
    """`pixels.clean_encode` in a child capped at IMAGE_RENDITION_MEMORY_MB, so the web
    process never holds the decoded pixels; a child that dies refuses the upload, as one
    too large to process: the header's pixel count passed, its decoding did not fit."""
    try:
        return pixels.clean_in_child(
            data, memory_bytes=settings.IMAGE_RENDITION_MEMORY_MB * 1024 * 1024, timeout=CLEAN_TIMEOUT_SECONDS
        )
    except pixels.ImageDamaged:
        raise  # image_clean refuses it as damaged
    except pixels.ChildFailed as failure:
        log.warning("upload for %s not cleaned: %s", param, failure)
        raise ImageRefused(_("This image is too large to process."), param=param) from None


def image_store(*, clean: CleanImage, directory: str) -> str:
    """Save under a fresh random name (a new upload never reuses a cached URL); return it."""
    name = f"{directory.rstrip('/')}/{secrets.token_hex(10)}.{clean.extension}"
    return default_storage.save(name, ContentFile(clean.content))


def rendition_name(name: str, size: int) -> str:
    stem, dot, extension = name.rpartition(".")
    return f"{stem}.w{size}{dot}{extension}"


def renditions_make(*, name: str, kind: str) -> list[str]:
    """Make the display sizes of the stored image `name` that are missing; return those made.

    The pixels are decoded in a child process capped at IMAGE_RENDITION_MEMORY_MB: an
    image it cannot handle is logged and left without renditions (its pages show the
    original), and trying again would not help, so the task does not retry.
    """
    missing = [
        size for size in RENDITION_SIZES[kind] if not default_storage.exists(rendition_name(name, size))
    ]
    if not missing or not default_storage.exists(name):
        return []
    with default_storage.open(name, "rb") as stored:
        data = stored.read()
    try:
        contents = pixels.renditions_in_child(
            data,
            missing,
            memory_bytes=settings.IMAGE_RENDITION_MEMORY_MB * 1024 * 1024,
            timeout=RENDITIONS_TIMEOUT_SECONDS,
        )
    except pixels.ChildFailed as failure:
        log.error("renditions of %s not made: %s", name, failure)
        return []
    made = []
    for size, content in zip(missing, contents, strict=True):
        made.extend(_save_exactly(rendition_name(name, size), content))
    return made


def _save_exactly(name: str, content: bytes) -> list[str]:
    """Save under `name`; if another worker got there first, keep theirs and drop this copy."""
    saved = default_storage.save(name, ContentFile(content))
    if saved != name:
        default_storage.delete(saved)
        return []
    return [saved]


def image_files_delete(*, name: str, kind: str) -> None:
    for stored in (name, *(rendition_name(name, size) for size in RENDITION_SIZES[kind])):
        default_storage.delete(stored)


# A sweep stands in for the two tasks above when the broker was down as they were queued.
# It leaves alone a file younger than the grace period: a new upload is stored before its
# transaction commits, and the task it stands in for may be just behind.
SWEEP_GRACE = timedelta(minutes=2)
# Renditions are sought for images stored within this window only, so an image the child
# process cannot handle is tried for a day, not every run for ever.
SWEEP_RENDITIONS_WINDOW = timedelta(days=1)
SWEEP_CHUNK = 200


@dataclass(frozen=True)
class Swept:
    made: int = 0
    deleted: int = 0

    def __add__(self, other: "Swept") -> "Swept":
        return Swept(made=self.made + other.made, deleted=self.deleted + other.deleted)


def images_sweep(
    *,
    owners: QuerySet[Any],
    field: str,
    kind: str,
    directory: Callable[[str], str],
    now: datetime | None = None,
) -> Swept:
    """Make the missing renditions of each owner's image, and delete the files left in its
    folder (`directory(ref)`, where the owner's service stores them) that are neither it nor
    its renditions. Owners hold their image in `field` and have a `ref`; the app that owns
    them passes them in, as this app knows none but its own.

    Each folder is listed before its owner's image is read, so a file listed is either
    still the image then, or was replaced before the read and is no longer referenced."""
    now = now or timezone.now()
    swept, last = Swept(), 0
    while chunk := list(owners.filter(pk__gt=last).order_by("pk").values_list("pk", "ref")[:SWEEP_CHUNK]):
        listed = {pk: _folder_files(directory(ref)) for pk, ref in chunk}
        current = dict(owners.filter(pk__in=listed).values_list("pk", field))
        for pk, files in listed.items():
            swept += _folder_sweep(files=files, current=current.get(pk) or "", kind=kind, now=now)
        last = chunk[-1][0]
    return swept


def _folder_files(folder: str) -> list[str]:
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return []
    return [f"{folder}/{file}" for file in files]


def _folder_sweep(*, files: list[str], current: str, kind: str, now: datetime) -> Swept:
    keep = {current, *(rendition_name(current, size) for size in RENDITION_SIZES[kind])} if current else set()
    made = 0
    # The image may lie outside the folder (logos stored before they had one of their own).
    missing = keep - {current, *files}
    if missing and _stored_between(current, now, SWEEP_RENDITIONS_WINDOW):
        made = len(renditions_make(name=current, kind=kind))
    stale = [name for name in files if name not in keep and _stored_between(name, now, None)]
    for name in stale:
        log.info("deleting %s: no longer an image nor one of its renditions", name)
        default_storage.delete(name)
    return Swept(made=made, deleted=len(stale))


def _stored_between(name: str, now: datetime, window: timedelta | None) -> bool:
    """Stored before the grace period, and within `window` (if any) before that."""
    try:
        stored = default_storage.get_modified_time(name)
    except FileNotFoundError:
        return False
    return stored <= now - SWEEP_GRACE and (window is None or stored > now - SWEEP_GRACE - window)


def image_url(name: str, *, kind: str, size: int) -> str:
    """The URL of the smallest rendition at least `size` wide, or of the original until it exists."""
    fitting = [s for s in RENDITION_SIZES[kind] if s >= size] or [max(RENDITION_SIZES[kind])]
    rendition = rendition_name(name, fitting[0])
    return default_storage.url(rendition if default_storage.exists(rendition) else name)
