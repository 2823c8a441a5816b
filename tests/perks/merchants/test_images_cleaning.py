"""An upload is cleaned in the capped child process: the web process never holds its pixels,
and a child that runs out of memory refuses the upload instead of ending the process."""

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from perks.merchants.errors import ImageRefused
from perks.merchants.images import image_clean
from tests.perks.merchants.test_images import lossless_webp

ROOT = Path(__file__).resolve().parents[3]

# Run in a fresh interpreter, so its peak resident memory is that of one upload's cleaning
# and not of whatever this test process did before.
_MEASURE = """\
import resource, sys
import django
django.setup()
from perks.merchants.images import image_clean
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
clean = image_clean(data)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(clean.width, clean.height, after - before)
"""


def _peak_growth_kb(path: Path) -> tuple[int, int, int]:
    """Width, height and the growth of peak RSS (KB) of a fresh process cleaning `path`."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1"}
    ran = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", _MEASURE, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    width, height, growth = (int(figure) for figure in ran.stdout.split())
    return width, height, growth


@pytest.mark.parametrize("fmt", ["WEBP", "JPEG"])
def test_cleaning_16_megapixels_does_not_grow_the_web_process(tmp_path: Path, fmt: str) -> None:
    """Decoded in this process, the lossless WebP would add some 400 MB, the JPEG 180 MB."""
    path = tmp_path / f"large.{fmt.lower()}"
    if fmt == "WEBP":
        path.write_bytes(lossless_webp(4000, 4000))
    else:
        Image.linear_gradient("L").resize((4000, 4000)).convert("RGB").save(path, format=fmt)

    width, height, growth_kb = _peak_growth_kb(path)

    assert (width, height) == (4000, 4000)
    assert growth_kb < 20 * 1024


def test_an_image_too_large_for_the_cap_is_refused_not_a_crash(settings: Any) -> None:
    settings.IMAGE_RENDITION_MEMORY_MB = 64

    with pytest.raises(ImageRefused, match="too large to process") as refused:
        image_clean(lossless_webp(4000, 4000), param="logo")

    assert refused.value.param == "logo"
    settings.IMAGE_RENDITION_MEMORY_MB = 512  # the default: the same image is cleaned then
    assert image_clean(lossless_webp(4000, 4000)).width == 4000


def test_a_truncated_jpeg_found_out_by_the_child_is_refused_as_damaged() -> None:
    """A JPEG's header, which this process reads, is whole: the child's decoder finds the cut."""
    out = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").save(out, format="JPEG")
    whole = out.getvalue()

    with pytest.raises(ImageRefused, match="truncated or damaged"):
        image_clean(whole[: len(whole) // 2])
