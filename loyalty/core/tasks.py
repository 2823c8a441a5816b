"""How every Perkline task is declared: `@task("app.name")` on a function of ids.

Every task gets the same safety net from `PerklineTask`, the Celery app's task class
(config/celery.py): acknowledged late, so a killed worker's task runs again; retried a
bounded number of times, with jittered exponential backoff, on errors worth retrying (a
lost connection, not a broken constraint); and enqueued after the surrounding transaction
commits with `task.delay_on_commit(...)`.

A send after commit must not fail what has been committed: the request that redeemed a
voucher has to answer that it did. So these sends (`delay_on_commit`,
`apply_async_on_commit`, and `enqueue_committed` inside a hook of one's own) try the broker
once, quickly, and when it cannot be reached log a warning instead of raising. The sweeps
in the beat schedule (config/schedule.py) find the committed work still waiting and queue
it once the broker is back; docs/operations.md names the few tasks that have none.

One rule for imports: services enqueue tasks, so a `tasks.py` imports the services it
calls inside each task function, and services import their tasks at the top.
"""

import logging
import math
from collections.abc import Callable
from functools import partial
from typing import Any, ParamSpec, TypeVar, cast

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.db import InterfaceError, OperationalError, transaction
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Worth retrying: the database, the broker or the cache could not be reached or gave up
# for now (a lost connection, a deadlock, a serialization failure, a timeout). Not
# `DatabaseError` itself: its IntegrityError, DataError and ProgrammingError would fail the
# same way five more times.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    BrokerError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
)

# What an unreachable broker raises at a send: kombu's wrapper of the transport's errors,
# or a socket error that got past it.
BROKER_ERRORS: tuple[type[Exception], ...] = (BrokerError, OSError)

# A send after commit reconnects once at once (a pooled connection the broker dropped when
# it restarted) and then gives up, rather than sleep between tries while a response waits.
AFTER_COMMIT_RETRY_POLICY: dict[str, float] = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0,
    "interval_max": 0,
}


class PerklineTask(DjangoTask[P, R]):
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    max_retries = 5
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True

    def apply_async(
        self,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        *rest: Any,
        **options: Any,
    ) -> Any:
        """On RabbitMQ's quorum queues the broker holds a countdown, in whole seconds, and
        Celery refuses one under a second: a fractional countdown is rounded up there."""
        countdown = options.get("countdown")
        if countdown and self.app.conf.task_default_queue_type == "quorum":
            options["countdown"] = math.ceil(countdown)
        return super().apply_async(args, kwargs, *rest, **options)

    # DjangoTask's methods return None, as these do; its stubs say they return a result.
    def delay_on_commit(self, *args: P.args, **kwargs: P.kwargs) -> None:  # type: ignore[override]
        """`delay` after the transaction commits, as `enqueue_committed` sends."""
        transaction.on_commit(partial(self.enqueue_committed, args, kwargs))

    def apply_async_on_commit(  # type: ignore[override]
        self, args: tuple[Any, ...] | None = None, kwargs: dict[str, Any] | None = None, **options: Any
    ) -> None:
        """`apply_async` after the transaction commits, as `enqueue_committed` sends."""
        transaction.on_commit(partial(self.enqueue_committed, args, kwargs, **options))

    def enqueue_committed(
        self, args: tuple[Any, ...] | None = None, kwargs: dict[str, Any] | None = None, **options: Any
    ) -> bool:
        """`apply_async` for work already committed (in an on-commit hook, or after the
        block that wrote it): one quick try, and with the broker unreachable a warning and
        False instead of an exception: what was committed stands either way.

        The warning names the task, never its arguments (they may carry what the logs
        must not)."""
        try:
            self.apply_async(args, kwargs, retry=True, retry_policy=AFTER_COMMIT_RETRY_POLICY, **options)
        except BROKER_ERRORS as error:
            log.warning(
                "Task %s not enqueued after commit, the broker is unreachable (%s: %s).",
                self.name,
                type(error).__name__,
                error,
            )
            return False
        return True


def task(name: str, **options: Any) -> Callable[[Callable[P, R]], PerklineTask[P, R]]:
    """`shared_task`, typed as what the app's task class really is, so that `delay` and
    `delay_on_commit` are checked like the function they enqueue."""
    return cast(Callable[[Callable[P, R]], PerklineTask[P, R]], shared_task(name=name, **options))


@task("core.ping", acks_late=False, max_retries=0, ignore_result=False)
def ping(token: str) -> str:
    """Echo the token: proof that a worker took a message off the broker and answered."""
    return token


@task("core.partitions_maintain")
def partitions_maintain() -> list[str]:
    """Months ahead made and months past retention dropped, on PostgreSQL (beat, nightly)."""
    from loyalty.core.partitioning import partitions_maintain

    return partitions_maintain()
