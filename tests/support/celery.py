"""A real Celery worker for tests, in this process, on the configured broker.

Each test process sends to a queue of its own, so parallel test processes (and a demo
worker on the same machine) never take each other's messages; the queue is purged and
deleted when the session ends.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from celery.contrib.testing.worker import start_worker
from kombu import Queue

from config.celery import app


def isolate_queue() -> str:
    name = f"perkline-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = name
    return name


def drop_queue(name: str) -> None:
    with app.connection_for_write() as conn:
        queue = Queue(name).bind(conn.default_channel)
        queue.purge()
        queue.delete()


def purge_queue() -> int:
    """Empty this process's queue; how many messages were waiting in it."""
    with app.connection_for_write() as conn:
        return int(Queue(app.conf.task_default_queue).bind(conn.default_channel).purge() or 0)


@contextmanager
def running_worker(*, concurrency: int = 1) -> Iterator[None]:
    """A worker for the block. Messages earlier tests of this process left behind (their
    rows rolled back since) are dropped first, so the worker spends the test on its own."""
    purge_queue()
    with start_worker(
        app,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        shutdown_timeout=30,
        queues=[app.conf.task_default_queue],
    ):
        yield
