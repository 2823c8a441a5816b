"""What the merchant side does when the loyalty side tells a merchant something
(loyalty/core/events.py): a webhook to the merchant's endpoints."""

from collections.abc import Mapping
from typing import Any

from loyalty.core.events import merchant_notified
from perks.merchants.models import Merchant
from perks.merchants.services import webhook_emit


def on_merchant_notified(
    sender: Any, *, merchant_ref: str, type: str, data: Mapping[str, object], **kwargs: Any
) -> None:
    merchant = Merchant.objects.filter(ref=merchant_ref).first()
    if merchant is not None:  # "platform" and merchants since removed have no endpoints
        webhook_emit(merchant=merchant, type=type, data=data)


def connect() -> None:
    merchant_notified.connect(on_merchant_notified, dispatch_uid="merchants.webhook_emit")
