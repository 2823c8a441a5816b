"""Background work of the merchant side. Each task takes ids or names and is safe to run twice.

Services enqueue these, so each task imports what it calls inside (loyalty/core/tasks.py).
"""

from loyalty.core.tasks import task


@task("merchants.webhook_endpoint_deliver")
def webhook_endpoint_deliver(endpoint_id: int, delivery_ids: list[int]) -> int:
    from perks.merchants.services.webhooks.delivery import webhook_endpoint_deliveries_attempt

    return webhook_endpoint_deliveries_attempt(endpoint_id=endpoint_id, delivery_ids=delivery_ids)


@task("merchants.webhook_deliver")
def webhook_deliver(delivery_id: int) -> None:
    """Nothing queues this one any more (deliveries go out by endpoint, above); it stays for
    the messages a broker still holds from before, which must not be dropped."""
    from perks.merchants.services.webhooks.delivery import webhook_delivery_attempt

    webhook_delivery_attempt(delivery_id=delivery_id)


@task("merchants.webhook_deliveries_dispatch")
def webhook_deliveries_dispatch() -> int:
    from perks.merchants.services.webhooks.delivery import webhook_deliveries_dispatch as dispatch

    return dispatch()


@task("merchants.image_renditions_make")
def image_renditions_make(name: str, kind: str) -> list[str]:
    from perks.merchants import images

    return images.renditions_make(name=name, kind=kind)


@task("merchants.image_files_delete")
def image_files_delete(name: str, kind: str) -> None:
    from perks.merchants import images

    images.image_files_delete(name=name, kind=kind)


@task("merchants.logos_sweep")
def logos_sweep() -> dict[str, int]:
    """Stands in for the two tasks above when the broker was down as a logo was set."""
    from perks.merchants.services.merchants import merchant_logos_sweep

    swept = merchant_logos_sweep()
    return {"made": swept.made, "deleted": swept.deleted}
