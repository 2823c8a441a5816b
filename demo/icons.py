"""The app's home-screen icons, drawn with Pillow: `make icons` (python -m demo.icons).

The mark is the P of static/app/icon.svg, white on the brand blue of static/css/app.css.
Three PNGs are written to static/app/ and committed: a rounded square at 192 and 512 px
(purpose "any") and a full-bleed 512 px square (purpose "maskable") whose mark keeps
inside the safe zone, the centred circle of 40 % of the size's radius that every
launcher's mask leaves whole.
"""

import sys
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "static" / "app"
BRAND = (0x1F, 0x5B, 0xD6, 255)
MARK = (255, 255, 255, 255)
GRID = 64  # the units of icon.svg's viewBox
CORNER = 14  # its corner radius, in those units
SUPERSAMPLE = 4  # drawn large and scaled down, so edges come out smooth
SAFE_ZONE = 0.4  # of the size: the radius of the circle a maskable icon's content keeps in

# The P, in grid units, centred on (32, 32): the stem, the bowl's box and the bowl's disc.
STEM = (20.5, 18, 26.5, 46)
BOWL_BOX = (20.5, 18, 34.5, 36)
BOWL_DISC = (25.5, 18, 43.5, 36)

ICONS = {
    "icon-192.png": (192, False),
    "icon-512.png": (512, False),
    "icon-maskable-512.png": (512, True),
}


def icon(size: int, *, maskable: bool) -> Image.Image:
    """One icon: a full-bleed square when maskable (the launcher cuts its own shape),
    else the rounded square of icon.svg on transparency."""
    big = size * SUPERSAMPLE
    unit = big / GRID
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle((0, 0, big, big), fill=BRAND)
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=CORNER * unit, fill=BRAND)
    for box in (STEM, BOWL_BOX):
        draw.rectangle(tuple(round(edge * unit) for edge in box), fill=MARK)
    draw.ellipse(tuple(round(edge * unit) for edge in BOWL_DISC), fill=MARK)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    for name, (size, maskable) in ICONS.items():
        # No timestamps or other chunks: the same drawing gives the same bytes.
        icon(size, maskable=maskable).save(OUT / name, format="PNG", optimize=True)
        sys.stdout.write(f"static/app/{name}\n")


if __name__ == "__main__":
    main()
