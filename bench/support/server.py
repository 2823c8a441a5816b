"""The stack an HTTP benchmark runs against: a fresh bench database, served by gunicorn.

`bench_database()` creates `<DATABASE_URL's name>_bench` (or var/bench.sqlite3), migrates
it and points this process's connection at it, so the benchmark builds its data through
the services; `gunicorn()` serves an app on a free port against it, production settings
(DEBUG off), as gunicorn.conf.py serves production (keep-alive `gthread` workers) with the
benchmark's counts of workers and threads, and stops it afterwards.
"""

import os
import secrets
import signal
import socket
import subprocess  # nosec B404  # runs the benchmark's own commands
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 20
# A benchmark measures the stack, not the guard against runaway clients.
UNTHROTTLED = "1000000000/min"


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"


@contextmanager
def bench_database() -> Iterator[str]:
    """A fresh, migrated database for this run; yields its DATABASE_URL. Dropped afterwards."""
    settings_dict = connection.settings_dict
    original = settings_dict["NAME"]
    bench_name = (
        str(Path(settings.VAR_DIR) / "bench.sqlite3")
        if connection.vendor == "sqlite"
        else f"{original}_bench"
    )
    settings_dict["TEST"] = {**settings_dict.get("TEST", {}), "NAME": bench_name}
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield _database_url(settings_dict)
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)


def _database_url(settings_dict: dict[str, object]) -> str:
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(str(settings_dict.get("USER") or ""))
    password = quote(str(settings_dict.get("PASSWORD") or ""))
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host, port = settings_dict.get("HOST") or "127.0.0.1", settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{settings_dict['NAME']}"


@contextmanager
def gunicorn(
    app: str,
    *,
    database_url: str,
    workers: int = 2,
    threads: int = 4,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """`app` (a WSGI path such as config.wsgi:application) served on a free local port,
    with `extra_env` on top of the environment described above."""
    host, port = "127.0.0.1", _free_port()
    env = served_environment(database_url, host=host, extra_env=extra_env)
    command = [
        *(sys.executable, "-m", "gunicorn", app),
        # gthread workers and keep-alive come from gunicorn.conf.py, as in production.
        *("--bind", f"{host}:{port}", "--workers", str(workers), "--threads", str(threads)),
        *("--log-level", "warning"),
    ]
    process = subprocess.Popen(command, env=env, cwd=settings.BASE_DIR, start_new_session=True)  # noqa: S603  # nosec B603  # a fixed command of ours, no shell
    try:
        _wait_until_serving(host, port, process)
        yield Server(host, port)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def served_environment(
    database_url: str, *, host: str = "127.0.0.1", extra_env: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment the app is served in: production settings (DEBUG off) on the bench
    database, answering to `host`, unthrottled, with `extra_env` on top."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": host,
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "API_RATE_LIMIT": UNTHROTTLED,
        "LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_serving(host: str, port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} before serving")
        try:
            with socket.create_connection((host, port), timeout=1) as probe:
                probe.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                if probe.recv(12).startswith(b"HTTP/1."):
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not serve within {READY_TIMEOUT_SECONDS} s")
