"""The one domain event by which the loyalty side tells a merchant something (a member
disputed its event, appealed its hold, was erased). The merchant side turns each into a
webhook (perks/merchants/receivers.py), so the loyalty apps never import `perks`.

It is sent inside the transaction that causes it, with `send`: the webhook's rows are
written with their cause or not at all, and delivered after commit.

`merchant_notified` is sent with `merchant_ref` (mch_…), `type` (a webhook event type)
and `data` (a JSON-ready mapping).
"""

from collections.abc import Mapping

from django.dispatch import Signal

merchant_notified = Signal()


def merchant_notify(*, merchant_ref: str, type: str, data: Mapping[str, object]) -> None:
    merchant_notified.send(sender=None, merchant_ref=merchant_ref, type=type, data=data)
