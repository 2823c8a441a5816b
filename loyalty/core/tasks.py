"""How every Perkline task is declared: `@task("app.name")` on a function of ids.

Every task gets the same safety net from `PerklineTask`, the Celery app's task class
(config/celery.py): acknowledged late, so a killed worker's task runs again; retried a
bounded number of times, with jittered exponential backoff, on errors worth retrying; and
enqueued after the surrounding transaction commits with `task.delay_on_commit(...)`.

One rule for imports: services enqueue tasks, so a `tasks.py` imports the services it
calls inside each task function, and services import their tasks at the top.
"""

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.db import DatabaseError, InterfaceError
from kombu.exceptions import OperationalError as BrokerError

P = ParamSpec("P")
R = TypeVar("R")

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    DatabaseError,
    InterfaceError,
    BrokerError,
    ConnectionError,
    TimeoutError,
)


class PerklineTask(DjangoTask):
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    max_retries = 5
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True


def task(name: str, **options: Any) -> Callable[[Callable[P, R]], DjangoTask[P, R]]:
    """`shared_task`, typed as what the app's task class really is, so that `delay` and
    `delay_on_commit` are checked like the function they enqueue."""
    return cast(Callable[[Callable[P, R]], DjangoTask[P, R]], shared_task(name=name, **options))


@task("core.ping", acks_late=False, max_retries=0, ignore_result=False)
def ping(token: str) -> str:
    """Echo the token: proof that a worker took a message off the broker and answered."""
    return token
