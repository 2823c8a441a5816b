"""A real `celery worker` process for a benchmark, on the bench database, consuming a queue
of the run's own: what production runs beside the web servers, with start-up untimed."""

import os
import signal
import socket
import subprocess  # nosec B404  # runs the benchmark's own commands
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from kombu import Queue

from config.celery import app

READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 60


def bench_queue() -> str:
    return f"perkline-bench-{uuid.uuid4().hex[:8]}"


@contextmanager
def worker_process(
    database_url: str,
    *,
    queue: str | None = None,
    concurrency: int = 2,
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """A prefork worker on `queue` (a fresh one by default), which this process also sends
    its tasks to while it runs; yields the queue. Stopped warm (its tasks finish) after."""
    queue = queue or bench_queue()
    node = f"{queue}@{socket.gethostname()}"
    saved = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "CELERY_TASK_SOFT_TIME_LIMIT": "1200",
        "CELERY_TASK_TIME_LIMIT": "1300",
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-n", node]
    command += ["--pool", "prefork", "--concurrency", str(concurrency), "--loglevel", "WARNING"]
    command += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
    process = subprocess.Popen(command, env=env, cwd=settings.BASE_DIR, start_new_session=True)  # noqa: S603  # nosec B603  # a fixed command of ours, no shell
    try:
        _wait_ready(node)
        yield queue
    finally:
        process.send_signal(signal.SIGTERM)  # a warm shutdown: the pool's children finish first
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        app.conf.task_default_queue = saved


def queue_purge(name: str) -> int:
    """Empty `name`; how many messages were waiting in it."""
    with app.connection_for_write() as connection:
        return int(Queue(name).bind(connection.default_channel).purge() or 0)


def queue_drop(name: str) -> int:
    """Empty and delete `name`; how many messages were waiting in it."""
    with app.connection_for_write() as connection:
        queue = Queue(name).bind(connection.default_channel)
        waiting = int(queue.purge() or 0)
        queue.delete()
    return waiting


@contextmanager
def tasks_parked() -> Iterator[str]:
    """Tasks this process sends go to a queue no worker consumes, dropped afterwards."""
    queue = bench_queue()
    saved = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        yield queue
    finally:
        app.conf.task_default_queue = saved
        queue_drop(queue)


def _wait_ready(node: str) -> None:
    """Until the worker answers a ping (its pool is up), so start-up is not timed."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if app.control.ping(destination=[node], timeout=0.5):
            return
    raise RuntimeError(f"the bench worker {node} did not start")
