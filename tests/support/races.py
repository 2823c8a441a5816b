"""Race tests: several threads, each on its own database connection, released together.

Use with `transactional_db` (the threads must see committed rows). Assert the invariant
on the outcomes, never a timing.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections

BARRIER_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Outcome:
    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def race(action: Callable[[int], Any], *, threads: int) -> list[Outcome]:
    """Run `action(i)` in `threads` threads at once and return each one's outcome."""
    barrier = threading.Barrier(threads, timeout=BARRIER_TIMEOUT_SECONDS)
    outcomes: list[Outcome | None] = [None] * threads

    def contender(index: int) -> None:
        try:
            barrier.wait()
            outcomes[index] = Outcome(value=action(index))
        except BaseException as exc:  # the outcome is what the test inspects
            outcomes[index] = Outcome(error=exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=contender, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [outcome or Outcome(error=RuntimeError("thread did not report")) for outcome in outcomes]


def errors_of(outcomes: list[Outcome]) -> list[BaseException]:
    return [o.error for o in outcomes if o.error is not None]
