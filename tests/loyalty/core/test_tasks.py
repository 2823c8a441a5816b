"""PerklineTask: a send after commit never fails what was committed, and a task retries
only the errors worth retrying."""

import logging
import time

import pytest
from django.db import DataError, IntegrityError, InterfaceError, OperationalError, transaction

from loyalty.core.tasks import PerklineTask, task
from tests.support.celery import broker_unreachable, purge_queue

ERRORS: dict[str, type[Exception]] = {
    "IntegrityError": IntegrityError,
    "DataError": DataError,
    "OperationalError": OperationalError,
    "InterfaceError": InterfaceError,
}
attempts: list[str] = []


@task("tests.core.fail_with")
def fail_with(error: str) -> None:
    """Fails with the named error every time it runs, and counts its runs."""
    attempts.append(error)
    raise ERRORS[error](f"{error} on purpose")


@task("tests.core.note")
def note(secret: str) -> str:
    return secret


@pytest.mark.parametrize("error", ["IntegrityError", "DataError"])
def test_a_task_failing_for_good_runs_once(error):
    attempts.clear()

    result = fail_with.apply((error,))

    assert result.failed()
    assert attempts == [error]


@pytest.mark.parametrize("error", ["OperationalError", "InterfaceError"])
def test_a_task_failing_for_now_is_retried_its_five_times(error):
    attempts.clear()

    result = fail_with.apply((error,))

    assert result.failed()
    assert len(attempts) == 1 + PerklineTask.max_retries


@pytest.mark.django_db(transaction=True)
def test_a_send_on_commit_reaches_the_broker():
    purge_queue()
    with transaction.atomic():
        note.delay_on_commit("first")
        note.apply_async_on_commit(("second",), countdown=60)
        assert purge_queue() == 0  # nothing before the commit

    assert purge_queue() == 2


@pytest.mark.django_db(transaction=True)
def test_a_send_on_commit_with_the_broker_down_is_a_quick_warning_not_an_error(caplog):
    caplog.set_level(logging.WARNING, logger="loyalty.core.tasks")
    with broker_unreachable():
        started = time.monotonic()
        with transaction.atomic():
            note.delay_on_commit("pa55word")
            note.apply_async_on_commit(("pa55word",), countdown=60)
        took = time.monotonic() - started

    assert took < 0.5  # no sleeping between tries while a response waits
    assert [record.levelno for record in caplog.records] == [logging.WARNING, logging.WARNING]
    assert all("tests.core.note" in record.getMessage() for record in caplog.records)
    assert "pa55word" not in caplog.text


def test_enqueue_committed_says_whether_the_broker_took_it(caplog):
    caplog.set_level(logging.WARNING, logger="loyalty.core.tasks")
    purge_queue()
    assert note.enqueue_committed(("up",)) is True
    assert purge_queue() == 1

    with broker_unreachable():
        assert note.enqueue_committed(("down",)) is False
    assert "tests.core.note" in caplog.text


def test_sends_reach_the_broker_again_once_it_is_back():
    purge_queue()
    with broker_unreachable():
        note.enqueue_committed(("lost",))

    note.delay("after")

    assert purge_queue() == 1
