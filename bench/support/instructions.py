"""The process bench/redeem_instructions.py runs under callgrind, with counting off.

`python -m bench.support.instructions PLAN`, in the environment the app is served in: it
loads the WSGI application, warms it up on PLAN's "warm" codes (a GET /api/v1/merchant and
a redemption each), then counts, with callgrind_control, the redemptions of PLAN's
"counted" codes in one dump (REDEMPTIONS) and as many GET /api/v1/merchant in another
(FLOOR). PLAN is a JSON file: {"key": an API key, "warm": [codes], "counted": [codes]}.
Every answer must be the expected one (201, 200), or the process fails.
"""

import io
import json
import os
import shutil
import subprocess  # nosec B404  # runs the benchmark's own commands
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import django

HOST = "127.0.0.1"
# The dumps callgrind writes, by what each counted.
REDEMPTIONS, FLOOR = "redemptions", "floor"


class _Caller:
    """Requests straight into the WSGI application, as gunicorn's worker hands them over."""

    def __init__(self, application: Callable[..., Any], key: str) -> None:
        self.application, self.key = application, key

    def merchant(self) -> None:
        self._call("GET", "/api/v1/merchant", expect="200")

    def redeem(self, body: bytes, idempotency_key: str) -> None:
        self._call(
            "POST",
            "/api/v1/redemptions",
            body=body,
            headers={"HTTP_IDEMPOTENCY_KEY": idempotency_key},
            expect="201",
        )

    def _call(
        self, method: str, path: str, *, expect: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": HOST,
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": HOST,
            "HTTP_AUTHORIZATION": f"Bearer {self.key}",
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            **(headers or {}),
        }
        statuses: list[str] = []
        answer = b"".join(self.application(environ, lambda status, _headers: statuses.append(status)))
        if not statuses[0].startswith(expect):
            raise RuntimeError(f"{method} {path} answered {statuses[0]}: {answer[:300]!r}")


def _callgrind(*options: str) -> None:
    control = shutil.which("callgrind_control")
    if control is None:
        raise RuntimeError("callgrind_control (valgrind's) is not on the PATH")
    subprocess.run([control, *options, str(os.getpid())], check=True, capture_output=True)  # noqa: S603  # nosec B603  # a fixed command of ours, no shell


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from bench.support.redemptions import redemption_body
    from config.wsgi import application
    from perks.vouchers.services import side_effects

    caller = _Caller(application, plan["key"])
    for code in plan["warm"]:
        caller.merchant()
        caller.redeem(redemption_body(code), str(uuid.uuid4()))
    # What a point of sale sends is made before counting: only the serving is counted.
    requests = [(redemption_body(code), str(uuid.uuid4())) for code in plan["counted"]]
    # A process wakes the side-effect drain at most once every NUDGE_SECONDS of wall time:
    # once in a burst of a hundred redemptions when served, but every other one here, where
    # each runs some fifty times slower. Counted as served, the wake-up is spread too thin
    # to count.
    side_effects.NUDGE_SECONDS = float("inf")
    _callgrind("--zero")
    _callgrind("--instr=on")
    for body, idempotency_key in requests:
        caller.redeem(body, idempotency_key)
    _callgrind(f"--dump={REDEMPTIONS}")
    for _ in requests:
        caller.merchant()
    _callgrind(f"--dump={FLOOR}")
    _callgrind("--instr=off")


if __name__ == "__main__":
    main()
