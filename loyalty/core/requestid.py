"""A request id that follows the work: into every log line and every task it enqueues.

The id comes from a trusted proxy's `X-Request-ID` when it looks sane, otherwise it is
made here. Tasks carry it in a message header, so a worker's log lines for a job name the
request that caused it.
"""

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
_SANE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(HEADER, "")
        request_id = incoming if _SANE.match(incoming) else uuid.uuid4().hex
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get() or "-"
        return True


@before_task_publish.connect
def _stamp_task(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None and (request_id := current_request_id.get()):
        headers.setdefault("request_id", request_id)


@task_prerun.connect
def _adopt_task_request_id(task: Any = None, **_: Any) -> None:
    if task is None:
        return
    request_id = getattr(task.request, "request_id", None) or ((task.request.headers or {}).get("request_id"))
    current_request_id.set(request_id or f"task-{task.request.id}")


@task_postrun.connect
def _forget_task_request_id(**_: Any) -> None:
    current_request_id.set(None)
