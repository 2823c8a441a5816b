"""Pillow's side of logos and perk images: the decoders we trust, how images are encoded,
and the display sizes, made in a child process whose memory is capped.

Decoding is where an image costs memory: a 1 KB lossless WebP can claim millions of
pixels. Uploads are refused past MAX_PIXELS from the header alone (`images.image_clean`),
and Pillow's own guard is set to the same figure as a second one. The display sizes are
made later, by a task, in a child process (`python -m perks.merchants.pixels`) whose
address space is capped: whatever slips past those checks (an image stored before them,
a decoder's bug) ends that child with a MemoryError, never the worker that ran the task.

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
from pathlib import Path

from PIL import Image

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

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_LENGTH = struct.Struct(">I")


class RenditionsFailed(Exception):
    """The child could not make the renditions: what it said, or how it ended."""


def renditions_in_child(
    data: bytes, sizes: Sequence[int], *, memory_bytes: int, timeout: float
) -> list[bytes]:
    """`renditions_encode(data, sizes)`, run in a child process limited to `memory_bytes`
    of address space and `timeout` seconds; RenditionsFailed if it does not finish well."""
    command = [sys.executable, "-m", __name__, str(memory_bytes), ",".join(str(size) for size in sizes)]
    try:
        done = subprocess.run(  # noqa: S603  # nosec B603  # our own module; no shell, no outside argument
            command, input=data, capture_output=True, timeout=timeout, check=False, cwd=_PROJECT_ROOT
        )
    except subprocess.TimeoutExpired:
        raise RenditionsFailed(f"not done in {timeout:g} seconds") from None
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        raise RenditionsFailed(said[-1] if said else f"ended by signal {-done.returncode}")
    return _unframed(done.stdout)


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
    """The child: `python -m perks.merchants.pixels MEMORY_BYTES SIZE,SIZE,…`, the image on
    stdin, its renditions on stdout (each after its length, 4 bytes big-endian)."""
    memory_bytes, sizes = int(argv[1]), [int(size) for size in argv[2].split(",")]
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    sys.stdout.buffer.write(_framed(renditions_encode(sys.stdin.buffer.read(), sizes)))


if __name__ == "__main__":
    main(sys.argv)
