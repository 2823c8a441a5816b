"""Webhooks out, in three parts:

- endpoints.py: the endpoints a merchant registers, the event types they subscribe to,
  and the secret that signs what is sent to them;
- delivery.py: emitting an event and delivering it to each subscribed endpoint, with
  retries, until it is answered or given up;
- sender.py: the HTTP session deliveries go out through, which connects only to public
  addresses, and the address rules endpoints are checked against.

The names here are the package's public API, for other modules and for settings that
name `perks.merchants.services.webhooks.WEBHOOK_EVENT_TYPES`; anything else is imported
from the module that holds it.
"""

from perks.merchants.services.webhooks.delivery import (
    webhook_deliveries_dispatch,
    webhook_delivery_attempt,
    webhook_delivery_retry,
    webhook_emit,
    webhook_endpoint_test,
)
from perks.merchants.services.webhooks.endpoints import (
    WEBHOOK_EVENT_TYPES,
    CreatedEndpoint,
    webhook_endpoint_create,
    webhook_endpoint_update,
)

__all__ = [
    "WEBHOOK_EVENT_TYPES",
    "CreatedEndpoint",
    "webhook_deliveries_dispatch",
    "webhook_delivery_attempt",
    "webhook_delivery_retry",
    "webhook_emit",
    "webhook_endpoint_create",
    "webhook_endpoint_test",
    "webhook_endpoint_update",
]
