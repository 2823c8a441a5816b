"""Pillow's side of logos and perk images: the decoders we trust, how images are encoded,
and the two jobs that decode them, cleaning an upload and making its display sizes, both
done in a child process whose memory is capped.

Decoding is where an image costs memory: a 1 KB lossless WebP can claim millions of
pixels, and even the largest image accepted (16 megapixels) takes some 400 MB to clean.
Uploads are refused past MAX_PIXELS from the header alone (`images.image_clean`), and
Pillow's own guard is set to the same figure as a second one. The pixels themselves are
decoded only in a child process (`python -m perks.merchants.pixels`) whose address space
is capped: the web process that cleans an upload, or the worker that makes its display
sizes, never holds them, and whatever slips past those checks (an image stored before
them, a decoder's bug) ends that child with a MemoryError, never the process that ran it.

This module imports neither Django nor the rest of the project, so the child starts in
a fraction of the time a Django process takes.
"""

import io
import resource
import struct
import subprocess  # nosec B404  # runs only this module, with this interpreter
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

# Far beyond any logo or banner (a 4000×4000 photo), far below what would exhaust a
# worker's memory; checked from the header, before a pixel is decoded.
MAX_PIXELS = 16_000_000
# Pillow warns past this, and refuses past twice it; the warning is an error in every
# process of ours (MerchantsConfig.ready, and `main` here).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# The decoders we trust; MPO is how Pillow names a JPEG that carries extra frames.
DECODERS = ("PNG", "JPEG", "WEBP")
STORED_FORMAT = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WEBP"}
SAVE_OPTIONS: dict[str, dict[str, object]] = {
    "PNG": {},
    "JPEG": {"quality": 88},
    "WEBP": {"quality": 88},
}

_EXTENSION = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_LENGTH = struct.Struct(">I")
_SIZE = struct.Struct(">II")
# The errors a decoder raises on a file that is cut short, damaged or lying; the child
# reports them with this exit status (sysexits' EX_DATAERR), so they are told apart from
# running out of memory.
_DAMAGED = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    KeyError,
    IndexError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)
_EXIT_DAMAGED = 65
# The operation that cleans an upload, named in place of the display sizes.
_CLEAN = "clean"


class ChildFailed(Exception):
    """The child did not finish well: what it said, or how it ended."""


class ImageDamaged(ChildFailed):
    """The child's decoder refused the image: it is cut short, damaged or not what it claims."""


@dataclass(frozen=True)
class CleanImage:
    content: bytes
    format: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return _EXTENSION[self.format]


def clean_in_child(data: bytes, *, memory_bytes: int, timeout: float) -> CleanImage:
    """`clean_encode(data)`, run in a child process limited to `memory_bytes` of address
    space and `timeout` seconds; ImageDamaged or ChildFailed if it does not finish well."""
    fmt, size, content = _unframed(_in_child(data, _CLEAN, memory_bytes=memory_bytes, timeout=timeout))
    width, height = _SIZE.unpack(size)
    return CleanImage(content=content, format=fmt.decode("ascii"), width=width, height=height)


def renditions_in_child(
    data: bytes, sizes: Sequence[int], *, memory_bytes: int, timeout: float
) -> list[bytes]:
    """`renditions_encode(data, sizes)`, run in a child process limited to `memory_bytes`
    of address space and `timeout` seconds; ChildFailed if it does not finish well."""
    operation = ",".join(str(size) for size in sizes)
    return _unframed(_in_child(data, operation, memory_bytes=memory_bytes, timeout=timeout))


def _in_child(data: bytes, operation: str, *, memory_bytes: int, timeout: float) -> bytes:
    """What `main` writes for `operation` given `data`, run in a child process."""
    command = [sys.executable, "-m", __name__, str(memory_bytes), operation]
    try:
        done = subprocess.run(  # noqa: S603  # nosec B603  # our own module; no shell, no outside argument
            command, input=data, capture_output=True, timeout=timeout, check=False, cwd=_PROJECT_ROOT
        )
    except subprocess.TimeoutExpired:
        raise ChildFailed(f"not done in {timeout:g} seconds") from None
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        failure = ImageDamaged if done.returncode == _EXIT_DAMAGED else ChildFailed
        raise failure(said[-1] if said else f"ended by signal {-done.returncode}")
    return done.stdout


def clean_encode(data: bytes) -> CleanImage:
    """The image in `data` re-encoded in its own format: only the pixels (turned upright)
    and the colour profile survive, no EXIF, XMP or text."""
    with Image.open(io.BytesIO(data), formats=DECODERS) as image:
        if image.width * image.height > MAX_PIXELS:
            raise ValueError(f"{image.width}×{image.height} is more than {MAX_PIXELS} pixels")
        image.load()
        fmt = STORED_FORMAT[str(image.format)]
        upright = ImageOps.exif_transpose(image) or image
        has_alpha = upright.mode in _ALPHA_MODES or "transparency" in upright.info
        pixels = upright.convert("RGBA" if has_alpha and fmt != "JPEG" else "RGB")
        icc_profile = image.info.get("icc_profile")
    pixels.info = {}
    options = dict(SAVE_OPTIONS[fmt])
    if icc_profile:
        options["icc_profile"] = icc_profile
    out = io.BytesIO()
    pixels.save(out, format=fmt, **options)
    return CleanImage(content=out.getvalue(), format=fmt, width=pixels.width, height=pixels.height)


def renditions_encode(data: bytes, sizes: Sequence[int]) -> list[bytes]:
    """The image in `data` at each of `sizes` (its longer side), in its own format, never enlarged."""
    with Image.open(io.BytesIO(data), formats=DECODERS) as original:
        if original.width * original.height > MAX_PIXELS:
            raise ValueError(f"{original.width}×{original.height} is more than {MAX_PIXELS} pixels")
        # A JPEG is decoded at the smallest scale still larger than every size (DCT
        # scaling): a fraction of its full memory. Other formats ignore this.
        original.draft(original.mode, (max(sizes), max(sizes)))
        original.load()
        fmt = STORED_FORMAT[str(original.format)]
        return [_encoded(_fitted(original, size), fmt) for size in sizes]


def _fitted(image: Image.Image, size: int) -> Image.Image:
    """`image` scaled so its longer side is `size`, or as it is when already smaller."""
    longest = max(image.size)
    if longest <= size:
        return image
    width, height = (max(1, round(side * size / longest)) for side in image.size)
    return image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **SAVE_OPTIONS[fmt])
    return out.getvalue()


def _framed(contents: Sequence[bytes]) -> bytes:
    return b"".join(_LENGTH.pack(len(content)) + content for content in contents)


def _unframed(stream: bytes) -> list[bytes]:
    contents, offset = [], 0
    while offset < len(stream):
        (length,) = _LENGTH.unpack_from(stream, offset)
        offset += _LENGTH.size
        contents.append(stream[offset : offset + length])
        offset += length
    return contents


def main(argv: Sequence[str]) -> None:
    """The child: `python -m perks.merchants.pixels MEMORY_BYTES OPERATION`, the image on
    stdin, the result on stdout, each part after its length (4 bytes big-endian).

    OPERATION is `clean` (the parts: the format, the width and height, the cleaned image)
    or `SIZE,SIZE,…` (the parts: the renditions). A file the decoder refuses ends the
    child with status 65 and the reason on stderr; running out of memory, with a MemoryError.
    """
    memory_bytes, operation = int(argv[1]), argv[2]
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    data = sys.stdin.buffer.read()
    try:
        if operation == _CLEAN:
            parts = _clean_parts(data)
        else:
            parts = renditions_encode(data, [int(size) for size in operation.split(",")])
    except _DAMAGED as exc:
        if "out of memory" in str(exc):  # how Pillow's decoders report a failed allocation
            raise MemoryError(str(exc)) from exc
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        sys.exit(_EXIT_DAMAGED)
    sys.stdout.buffer.write(_framed(parts))


def _clean_parts(data: bytes) -> list[bytes]:
    """`clean_encode(data)` as `main` writes it: the format, the width and height, the image.

    The web process opened these very bytes before it started this child (the probe in
    `images.image_clean`), so opening them fails here only for want of memory (WebP's
    decoder allocates its canvas as it opens, and says "could not create decoder object"):
    that must not pass for a damaged file."""
    try:
        Image.open(io.BytesIO(data), formats=DECODERS).close()
    except OSError as exc:
        raise MemoryError(f"{type(exc).__name__}: {exc}") from exc
    clean = clean_encode(data)
    return [clean.format.encode("ascii"), _SIZE.pack(clean.width, clean.height), clean.content]


if __name__ == "__main__":
    main(sys.argv)
