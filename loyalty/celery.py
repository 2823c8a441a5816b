"""The Celery app: `celery -A loyalty worker` and `celery -A loyalty beat`.

Configuration comes from Django settings (the CELERY_ names). Every task of ours gets the
same safety net from `PerklineTask`: acknowledged late, retried a bounded number of times
with jittered exponential backoff on errors that are worth retrying, and enqueued after
the surrounding transaction commits with `task.delay_on_commit(...)`. That is the one way
to enqueue from code that writes to the database.
"""

import os

from celery import Celery
from celery.contrib.django.task import DjangoTask
from django.db import DatabaseError, InterfaceError
from kombu.exceptions import OperationalError as BrokerError

from loyalty.schedule import BEAT_SCHEDULE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")

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


app = Celery("loyalty", task_cls=PerklineTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule = BEAT_SCHEDULE
