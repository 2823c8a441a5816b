"""Webhook endpoints: where a merchant's events are sent, which ones, and the secret that
signs them.

An endpoint's URL and event types are checked here, when it is created or changed; the
secret is made at creation and shown to the partner that once. WEBHOOK_EVENT_TYPES, the
event types partners may subscribe to, lives here because subscribing is where they are
chosen; emitting (delivery.py) refuses any other.
"""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from loyalty.core.errors import Invalid
from perks.merchants.models import Merchant, WebhookEndpoint
from perks.merchants.permissions import Permission
from perks.merchants.services.access import Actor, actor_require, audit_record
from perks.merchants.services.webhooks.sender import is_loopback, is_private_address

# Event types partners may subscribe to; the parts that emit them add theirs here.
WEBHOOK_EVENT_TYPES = (
    "voucher.issued",
    "voucher.redeemed",
    "voucher.revoked",
    "redemption.reversed",
    "redemption_batch.completed",
    "campaign.completed",
    "score_event.disputed",
    "score_event.resolved",
    "hold.appealed",
    "hold.resolved",
    "member.erased",
    "deposit.held",
    "deposit.released",
    "deposit.captured",
    "deposit.expired",
    "merchant.billing_paused",
    "merchant.billing_resumed",
)
MAX_ENDPOINTS = 16


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str


def webhook_endpoint_create(
    *, merchant: Merchant, actor: Actor, url: str, event_types: Iterable[str]
) -> CreatedEndpoint:
    """A new endpoint; `secret` is shown to the partner this once (it stays here, encrypted, to sign)."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.WEBHOOKS_MANAGE)
    url, types = _endpoint_url(url), _event_types(event_types)
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        if WebhookEndpoint.objects.filter(merchant=merchant, is_active=True).count() >= MAX_ENDPOINTS:
            raise Invalid(f"A merchant may have at most {MAX_ENDPOINTS} active endpoints.", param="url")
        endpoint = WebhookEndpoint.objects.create(
            merchant=merchant,
            url=url,
            event_types=types,
            secret=secret,
            created_by=actor if isinstance(actor, User) else None,
        )
        audit_record(
            merchant=merchant,
            actor=actor,
            action="webhook_endpoint.created",
            target=endpoint.ref,
            params={"url": url},
        )
    return CreatedEndpoint(endpoint=endpoint, secret=secret)


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: Actor,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    actor_require(actor=actor, merchant=endpoint.merchant, permission=Permission.WEBHOOKS_MANAGE)
    changes: dict[str, Any] = {}
    if url is not None:
        changes["url"] = _endpoint_url(url)
    if event_types is not None:
        changes["event_types"] = _event_types(event_types)
    if is_active is not None:
        changes["is_active"] = is_active
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**changes)
        audit_record(
            merchant=endpoint.merchant,
            actor=actor,
            action="webhook_endpoint.updated",
            target=endpoint.ref,
            params=dict(changes),
        )
    for field, value in changes.items():
        setattr(endpoint, field, value)
    return endpoint


def _endpoint_url(url: str) -> str:
    """https to a public host; plain http only to this machine, and only where allowed (demo, tests)."""
    url = (url or "").strip()
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        raise Invalid(
            "Give a full URL, such as https://example.com/perkline/webhooks.", param="url"
        ) from None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.username or parts.password:
        raise Invalid("Leave credentials out of the URL; verify the signature instead.", param="url")
    local = is_loopback(host)
    if local and not settings.WEBHOOK_ALLOW_LOOPBACK:
        raise Invalid("Webhooks cannot be sent to this machine.", param="url")
    if parts.scheme != "https" and not local:
        raise Invalid("Webhook URLs must use https.", param="url")
    if is_private_address(host):
        raise Invalid("Webhooks can only be sent to public addresses.", param="url")
    return url


def _event_types(event_types: Iterable[str]) -> list[str]:
    chosen = sorted(set(event_types))
    if not chosen:
        raise Invalid("Subscribe to at least one event type.", param="events")
    unknown = [t for t in chosen if t not in WEBHOOK_EVENT_TYPES]
    if unknown:
        raise Invalid(
            f"Unknown event type {unknown[0]!r}; one of {', '.join(WEBHOOK_EVENT_TYPES)}.", param="events"
        )
    return chosen
