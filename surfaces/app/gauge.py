"""The Score page's drawings, as geometry for server-rendered SVG: no Django, no database.

The gauge is a half circle from the lowest score (left) over the top to the highest
(right), one arc per tier band, with a marker on the arc at the member's score. The sparkline is a
polyline of scores over a time window. Coordinates are strings with two decimals, so a
template writes them as they are, whatever the active language's number format.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

SCALE_MIN = 350
SCALE_MAX = 950

# The gauge's viewBox is 0 0 GAUGE_WIDTH GAUGE_HEIGHT; the arc's centre sits above its
# bottom edge, leaving room for the labels at its ends.
GAUGE_WIDTH = 200
GAUGE_HEIGHT = 118
CENTRE_X = 100.0
CENTRE_Y = 100.0
RADIUS = 82.0
TONES = 5  # colours a band can take, low to high (CSS .tone-0 ... .tone-4)

SPARK_WIDTH = 300
SPARK_HEIGHT = 64
SPARK_PAD = 6.0  # room for the end dot's radius
SPARK_MIN_SPAN = 20  # scores drawn at least this far apart top to bottom, so noise stays flat


@dataclass(frozen=True)
class Point:
    x: float
    y: float

    @property
    def sx(self) -> str:
        return _num(self.x)

    @property
    def sy(self) -> str:
        return _num(self.y)


@dataclass(frozen=True)
class Band:
    name: str
    low: int
    high: int


@dataclass(frozen=True)
class Segment:
    """One tier band's arc: from its lowest score to where the next band starts."""

    band: Band
    path: str
    tone: int
    current: bool


@dataclass(frozen=True)
class Gauge:
    score: int
    segments: list[Segment]
    marker: Point
    low_end: Point  # where the scale's labels go
    high_end: Point
    scale_min: int = SCALE_MIN
    scale_max: int = SCALE_MAX
    width: int = GAUGE_WIDTH
    height: int = GAUGE_HEIGHT


def angle_of(score: int, low: int = SCALE_MIN, high: int = SCALE_MAX) -> float:
    """Radians, counter-clockwise from the right: pi at the lowest score, 0 at the highest.
    A score outside the scale is drawn at its nearer end."""
    clamped = min(max(score, low), high)
    return math.pi * (1 - (clamped - low) / (high - low))


def point_at(score: int, radius: float = RADIUS) -> Point:
    angle = angle_of(score)
    # SVG's y grows downwards, so the top of the half circle has the smallest y.
    return Point(CENTRE_X + radius * math.cos(angle), CENTRE_Y - radius * math.sin(angle))


def arc_path(start: int, end: int, radius: float = RADIUS) -> str:
    """An SVG path along the half circle from score `start` to score `end` (clockwise on
    screen, so over the top); never more than half a turn, so the small-arc flag holds."""
    a, b = point_at(start, radius), point_at(end, radius)
    r = _num(radius)
    return f"M {a.sx} {a.sy} A {r} {r} 0 0 1 {b.sx} {b.sy}"


def tone_of(position: int, count: int) -> int:
    """The colour of the band at `position` (0 = lowest) of `count`: lowest 0, highest TONES - 1."""
    if count <= 1:
        return TONES - 1
    return round(position * (TONES - 1) / (count - 1))


def gauge(score: int, bands: Sequence[Band], current: int | None = None) -> Gauge:
    """The gauge for `score` over `bands`, ordered low to high; `current` is the index of
    the member's band (marked on its arc)."""
    segments = []
    for position, band in enumerate(bands):
        # Bands meet: a band ends where the next starts, the last at its own top.
        end = bands[position + 1].low if position + 1 < len(bands) else band.high
        segments.append(
            Segment(
                band=band,
                path=arc_path(band.low, end),
                tone=tone_of(position, len(bands)),
                current=position == current,
            )
        )
    return Gauge(
        score=score,
        segments=segments,
        marker=point_at(score),
        low_end=point_at(SCALE_MIN),
        high_end=point_at(SCALE_MAX),
    )


@dataclass(frozen=True)
class Sparkline:
    points: list[Point]
    width: int = SPARK_WIDTH
    height: int = SPARK_HEIGHT

    @property
    def polyline(self) -> str:
        return " ".join(f"{point.sx},{point.sy}" for point in self.points)

    @property
    def last(self) -> Point:
        return self.points[-1]


def sparkline(values: Sequence[tuple[datetime, int]], start: datetime, end: datetime) -> Sparkline:
    """Scores at moments, oldest first, placed by time between `start` (left) and `end`
    (right); the lowest score at the bottom edge and the highest at the top, unless they are
    closer than SPARK_MIN_SPAN, which is drawn around the middle."""
    low: float = min(score for _, score in values)
    high: float = max(score for _, score in values)
    if high - low < SPARK_MIN_SPAN:
        middle = (low + high) / 2
        low, high = middle - SPARK_MIN_SPAN / 2, middle + SPARK_MIN_SPAN / 2
    seconds = max((end - start).total_seconds(), 1.0)
    inner_width, inner_height = SPARK_WIDTH - 2 * SPARK_PAD, SPARK_HEIGHT - 2 * SPARK_PAD
    points = []
    for moment, score in values:
        along = min(max((moment - start).total_seconds() / seconds, 0.0), 1.0)
        up = (score - low) / (high - low)
        points.append(Point(SPARK_PAD + along * inner_width, SPARK_PAD + (1 - up) * inner_height))
    return Sparkline(points=points)


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
