"""Background work of the merchant side. Each task takes ids or names and is safe to run twice.

Services enqueue these, so the services are imported inside the tasks, not above them.
"""

from collections.abc import Callable
from typing import ParamSpec, TypeVar, cast

from celery import shared_task
from celery.contrib.django.task import DjangoTask

from perks.merchants import images

P = ParamSpec("P")
R = TypeVar("R")


def _task(name: str) -> Callable[[Callable[P, R]], DjangoTask[P, R]]:
    """`shared_task`, typed as what the app's task class (PerklineTask) really is, so that
    `delay_on_commit` is checked like the function it enqueues."""
    return cast(Callable[[Callable[P, R]], DjangoTask[P, R]], shared_task(name=name))


@_task("merchants.webhook_deliver")
def webhook_deliver(delivery_id: int) -> None:
    from perks.merchants.services.webhooks import webhook_delivery_attempt

    webhook_delivery_attempt(delivery_id=delivery_id)


@_task("merchants.webhook_deliveries_dispatch")
def webhook_deliveries_dispatch() -> int:
    from perks.merchants.services.webhooks import webhook_deliveries_dispatch as dispatch

    return dispatch()


@_task("merchants.image_renditions_make")
def image_renditions_make(name: str, kind: str) -> list[str]:
    return images.renditions_make(name=name, kind=kind)


@_task("merchants.image_files_delete")
def image_files_delete(name: str, kind: str) -> None:
    images.image_files_delete(name=name, kind=kind)
