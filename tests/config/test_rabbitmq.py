"""RabbitMQ as the broker: what config/settings.py sets for an `amqp://` URL, used by a
real worker on the RabbitMQ of this machine (`RABBITMQ_URL`, by default the one CI runs at
127.0.0.1:5672).

The rest of the suite runs on the broker the environment names (Redis on CI), so these
tests point the process's Celery app at RabbitMQ for their duration, with the settings the
settings module gives an `amqp://` URL, and a queue of the test's own that is deleted
after: parallel runs on RabbitMQ's shared default vhost never meet. Where RabbitMQ cannot
be reached they skip, and under CI=true fail (tests/support/ci.py).
"""

import logging
import os
import runpy
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import amqp
import pytest
from django.conf import settings
from kombu import Exchange, Queue

from config.celery import app
from loyalty.core import health
from loyalty.core.tasks import ping
from perks.merchants.models import WebhookDelivery
from perks.merchants.permissions import Role
from perks.merchants.services import webhook_endpoint_create
from perks.vouchers.models import UsageRecord
from perks.vouchers.services import voucher_issue, voucher_redeem
from tests.factories import JoinedMemberFactory, MerchantFactory, PerkFactory, StaffFactory
from tests.support.celery import closed_port, drop_queue, running_worker
from tests.support.receiver import Receiver

pytestmark = pytest.mark.rabbitmq

RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
WAIT_SECONDS = 30


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=2).close()
    except OSError:
        return False
    return True


def _celery_settings(broker_url: str) -> dict[str, Any]:
    """What config/settings.py sets for Celery with `broker_url`, by Celery's own names."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CELERY_BROKER_URL", broker_url)
        env.delenv("CELERY_RESULT_BACKEND", raising=False)
        namespace = runpy.run_path(str(settings.BASE_DIR / "config" / "settings.py"))
    return {
        name.removeprefix("CELERY_").lower(): value
        for name, value in namespace.items()
        if name.startswith("CELERY_")
    }


@contextmanager
def celery_on(broker_url: str) -> Iterator[str]:
    """For the block, the app sends and consumes as a deploy on `broker_url` does, on a
    queue of its own (yielded). The app's pools and its queue declarations are set aside
    and given back after, as `broker_unreachable` does for its sends."""
    queue = f"perkline-test-rabbitmq-{uuid.uuid4().hex[:12]}"
    conf = app.conf
    celery: Any = app
    # The read and write URLs too: an earlier test may have left them set.
    urls = {"broker_read_url": broker_url, "broker_write_url": broker_url}
    changes = {**_celery_settings(broker_url), **urls, "task_default_queue": queue}
    saved_conf = {key: conf[key] for key in changes}
    saved = (celery._pool, celery._backend_cache, celery._local, vars(app).pop("amqp", None))
    conf.update(changes)
    celery._pool = celery._backend_cache = None
    celery._local = threading.local()  # where a result backend that is not thread-safe is kept
    try:
        # Celery reads CELERY_BROKER_URL from the environment before its configuration.
        with pytest.MonkeyPatch.context() as env:
            env.setenv("CELERY_BROKER_URL", broker_url)
            yield queue
    finally:
        if _reachable(broker_url):
            drop_queue(queue)
        # Not closed: kombu keeps one pool per broker for the process, and hands this one
        # to the next test on the same broker.
        conf.update(saved_conf)
        celery._pool, celery._backend_cache, celery._local, amqp_state = saved
        vars(app).pop("amqp", None)
        if amqp_state is not None:
            vars(app)["amqp"] = amqp_state


@pytest.fixture
def rabbitmq() -> Iterator[str]:
    if not _reachable(RABBITMQ_URL):
        pytest.skip(f"needs RabbitMQ at {RABBITMQ_URL} (set RABBITMQ_URL, or start rabbitmq-server)")
    with celery_on(RABBITMQ_URL) as queue:
        yield queue


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {WAIT_SECONDS}s")
        time.sleep(0.1)


def declares_as(queue: str, arguments: dict[str, Any]) -> bool:
    """Whether RabbitMQ accepts declaring `queue` again with `arguments`: a queue that
    exists is only declared again with the arguments it was made with."""
    with app.connection_for_write() as conn:
        declared = Queue(queue, durable=True, queue_arguments=arguments).bind(conn.channel())
        try:
            declared.queue_declare()
        except amqp.PreconditionFailed:
            return False
        return True


def test_an_amqp_url_gives_quorum_queues_and_publisher_confirms():
    rabbit = _celery_settings("amqp://guest:guest@rabbit.internal:5672/perkline")
    redis = _celery_settings("redis://127.0.0.1:6379/1")

    assert rabbit["task_default_queue_type"] == "quorum"
    assert rabbit["broker_transport_options"]["confirm_publish"] is True
    assert rabbit["task_default_exchange_type"] == "topic"  # the broker's own countdowns need it
    assert rabbit["result_backend"] == "rpc://"
    assert "task_default_queue_type" not in redis
    assert "confirm_publish" not in redis["broker_transport_options"]


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_rabbitmq_applies_a_redemptions_side_effects_and_sends_its_webhook(rabbitmq):
    merchant = MerchantFactory.create()
    owner = StaffFactory.create(merchant=merchant, role=Role.OWNER).user
    perk = PerkFactory.create(merchant=merchant)
    voucher = voucher_issue(perk=perk, member=JoinedMemberFactory.create(), actor=owner)
    with running_worker(), Receiver([200]).running() as receiver:
        webhook_endpoint_create(
            merchant=merchant, actor=owner, url=receiver.url, event_types=["voucher.redeemed"]
        )

        # The redemption's commit wakes the drain with a countdown under a second, which
        # RabbitMQ holds in its delay queues before the worker gets it.
        redemption = voucher_redeem(merchant=merchant, actor=owner, code=voucher.code)
        wait_until(lambda: len(receiver.received) == 1)

    assert UsageRecord.objects.filter(redemption=redemption).count() == 1
    assert WebhookDelivery.objects.filter(event__type="voucher.redeemed").count() == 1
    assert redemption.ref.encode() in receiver.received[0].body


def test_the_queue_celery_declares_on_rabbitmq_is_a_quorum_queue(rabbitmq):
    with running_worker():
        result = ping.apply_async(args=("quorum",), ignore_result=False)
        assert result.get(timeout=WAIT_SECONDS) == "quorum"

    assert declares_as(rabbitmq, {"x-queue-type": "quorum"})
    assert not declares_as(rabbitmq, {"x-queue-type": "classic"})


def test_a_send_rabbitmq_refuses_is_reported_not_taken_for_sent(rabbitmq, caplog):
    """With publisher confirms, a message the broker would not take (here a queue full up
    to its limit) fails the send: a sweep sends it again later, nothing is lost unseen."""
    full = Queue(
        f"{rabbitmq}-full",
        Exchange(f"{rabbitmq}-full", type="topic"),
        routing_key=f"{rabbitmq}-full",
        queue_arguments={"x-queue-type": "quorum", "x-max-length": 1, "x-overflow": "reject-publish"},
    )
    try:
        with caplog.at_level(logging.WARNING, logger="loyalty.core.tasks"):
            sent = [ping.enqueue_committed(("full",), queue=full) for _ in range(3)]
        with app.connection_for_write() as conn:
            channel: Any = conn.default_channel
            waiting = channel.queue_declare(full.name, passive=True)
    finally:
        with app.connection_for_write() as conn:
            bound = full.bind(conn.default_channel)
            bound.delete()
            bound.exchange.delete()

    assert False in sent
    assert sent.count(True) == waiting.message_count
    assert "Task core.ping not enqueued after commit, the broker is unreachable" in caplog.text


def test_a_rabbitmq_that_is_down_fails_a_send_after_commit_with_a_warning_and_the_broker_check(caplog):
    with celery_on(f"amqp://guest:guest@127.0.0.1:{closed_port()}//"), caplog.at_level(logging.WARNING):
        sent = ping.enqueue_committed(("down",))
        report = health.run_checks(("broker",))

    assert sent is False
    assert "Task core.ping not enqueued after commit, the broker is unreachable" in caplog.text
    assert not report.checks["broker"].ok
    assert "health check broker failed" in caplog.text
