"""A real Celery worker in its own process, on the test database and this process's queue,
for tests that kill a worker (SIGKILL) in the middle of its work.

Data the worker must see has to be committed: use it with `transactional_db`.
"""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from config.celery import app

STOP_TIMEOUT_SECONDS = 30


def test_database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    credentials = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextmanager
def worker_process(**env: str) -> Iterator[subprocess.Popen[bytes]]:
    """Start `celery worker` (solo pool) in a child process; stopped (if still alive) on exit."""
    queue = app.conf.task_default_queue
    child_env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "DEBUG": "1",
        **env,
    }
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-Q", queue]
    command += ["--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"]
    process = subprocess.Popen(command, env=child_env, cwd=settings.BASE_DIR)  # noqa: S603 (our own argv)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no shutdown, no acknowledgement, no cleanup, as when a machine dies."""
    process.send_signal(signal.SIGKILL)
    process.wait()
