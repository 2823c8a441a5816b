import io
import json
import logging

import pytest
from celery import shared_task
from pythonjsonlogger.json import JsonFormatter

from loyalty.core.requestid import HEADER, RequestIdFilter, current_request_id

pytestmark = pytest.mark.django_db


@shared_task(name="tests.current_request_id")
def report_request_id() -> str | None:
    return current_request_id.get()


def test_response_carries_the_incoming_request_id(client):
    response = client.get("/healthz", headers={HEADER: "abc12345-from-proxy"})
    assert response[HEADER] == "abc12345-from-proxy"


def test_an_unsafe_request_id_is_replaced(client):
    response = client.get("/healthz", headers={HEADER: "<script>"})
    assert response[HEADER] != "<script>"
    assert len(response[HEADER]) == 32


def test_json_log_lines_name_the_request(settings):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    options = {k: v for k, v in settings.LOGGING["formatters"]["json"].items() if k != "()"}
    handler.setFormatter(JsonFormatter(**options))
    logger = logging.getLogger("perkline.test.requestid")
    logger.addHandler(handler)
    token = current_request_id.set("trace-me-123")
    try:
        logger.warning("inside a request")
    finally:
        current_request_id.reset(token)
        logger.removeHandler(handler)

    line = json.loads(stream.getvalue())
    assert line["request_id"] == "trace-me-123"
    assert line["message"] == "inside a request"
    assert line["level"] == "WARNING"


def test_a_task_enqueued_by_a_request_runs_under_its_request_id(celery_worker):
    token = current_request_id.set("request-42abc")
    try:
        result = report_request_id.apply_async(ignore_result=False)
    finally:
        current_request_id.reset(token)

    assert result.get(timeout=20) == "request-42abc"
