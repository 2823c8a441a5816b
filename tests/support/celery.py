"""A real Celery worker for tests, in this process, on the configured broker.

Each test process sends to a queue of its own, so parallel test processes (and a demo
worker on the same machine) never take each other's messages; the queue is purged and
deleted when the session ends.

`broker_unreachable()` points this process's sends at a closed port for a block, as a
broker that is down looks to the web processes.
"""

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.contrib.testing.worker import start_worker
from kombu import Queue

from config.celery import app


def isolate_queue() -> str:
    name = f"perkline-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = name
    return name


def _declared(name: str, channel: Any) -> Queue:
    """The queue as the app declares it (on RabbitMQ, a quorum queue), so that emptying a
    queue no message was sent to yet finds it rather than fail."""
    queue: Queue = app.amqp.queues[name].bind(channel)
    queue.declare()
    return queue


def drop_queue(name: str) -> None:
    """The queue and its exchange, which on RabbitMQ outlives the queue."""
    with app.connection_for_write() as conn:
        queue = _declared(name, conn.default_channel)
        queue.purge()
        queue.delete()
        queue.exchange.delete()


def purge_queue() -> int:
    """Empty this process's queue; how many messages were waiting in it."""
    with app.connection_for_write() as conn:
        return int(_declared(app.conf.task_default_queue, conn.default_channel).purge() or 0)


@contextmanager
def running_worker(*, concurrency: int = 1) -> Iterator[None]:
    """A worker for the block. Messages earlier tests of this process left behind (their
    rows rolled back since) are dropped first, so the worker spends the test on its own."""
    purge_queue()
    root = logging.getLogger()
    level = root.level
    with start_worker(
        app,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        shutdown_timeout=30,
        queues=[app.conf.task_default_queue],
    ):
        # Starting sets the root logger to the worker's level (ERROR), for the rest of the
        # process: tests after this one read warnings too.
        root.setLevel(level)
        yield


def closed_port() -> int:
    """A local TCP port nothing listens on: one the system just gave and took back."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def broker_unreachable() -> Iterator[str]:
    """For the block, every send of this process goes to a Redis broker on a closed port:
    the connection is refused, as when the broker is down. The app's pools are set aside
    and given back after, so sends after the block reach the real broker again (and a
    worker started before keeps consuming from it). Yields the unreachable URL."""
    url = f"redis://127.0.0.1:{closed_port()}/0"
    conf = app.conf
    saved = {key: conf[key] for key in ("broker_url", "broker_write_url", "broker_transport_options")}
    # Celery caches its pools of broker connections and offers no way to swap them: they
    # are set aside and reset as Celery itself does after a fork (`Celery._after_fork`).
    celery: Any = app
    pools = (celery._pool, celery.amqp._producer_pool)
    conf.update(broker_url=url, broker_write_url=url, broker_transport_options={})
    celery._pool = celery.amqp._producer_pool = None
    try:
        yield url
    finally:
        if celery._pool is not None:
            celery._pool.force_close_all()
        conf.update(saved)
        celery._pool, celery.amqp._producer_pool = pools
