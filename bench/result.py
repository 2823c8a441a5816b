"""What every benchmark reports, and how it is timed.

`floor` is the same work done by the fastest plain means, timed in the same run on the
same machine, so `slowdown` (our time / floor time) means something on any hardware.
"""

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

SCALES = ("quick", "full")


@dataclass
class BenchResult:
    name: str
    metric: str
    value: float
    unit: str
    floor: float
    slowdown: float
    scale: dict[str, Any]
    notes: str
    # Other figures the run measured, beside `value` (redeem_api: the whole, side effects
    # drained as in production).
    figures: dict[str, Any] = field(default_factory=dict)

    def write(self) -> Path:
        out_dir = Path(settings.VAR_DIR) / "bench"
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{self.name}.json"
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path


class Stopwatch:
    seconds: float = 0.0


@contextmanager
def stopwatch() -> Iterator[Stopwatch]:
    watch = Stopwatch()
    started = time.perf_counter()
    try:
        yield watch
    finally:
        watch.seconds = time.perf_counter() - started


def best_of(runs: int, action: Callable[[], None], *, before: Callable[[], None] | None = None) -> float:
    """The fastest of `runs` timings of `action` (each after `before`, which is not timed)."""
    timings = []
    for _ in range(runs):
        if before is not None:
            before()
        with stopwatch() as watch:
            action()
        timings.append(watch.seconds)
    return min(timings)
