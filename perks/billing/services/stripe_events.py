"""Stripe's webhooks in: verified, stored under the event's id, then applied once by a task.

`stripe_event_receive` checks the signature (`stripe.Webhook.construct_event`, five
minutes' tolerance) and stores the event; a repeat of an id already stored is acknowledged
and stored no second time. `stripe_event_apply` applies it on its locked row, once: it
fetches the object the event is about and acts on the object's status, never on the
event's name or its copy of the object. So Stripe's names and localstripe's lead to the
same state, and events in any order (a success before the failure it supersedes) end where
Stripe is: deposits and invoices only ever move forward. Types no handler knows are
stored, acknowledged and marked applied with nothing done.
"""

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.core.errors import DomainError
from perks.billing.errors import StripeSignatureInvalid
from perks.billing.models import Deposit, StripeEvent
from perks.billing.services.deposits import deposit_refresh
from perks.billing.services.invoices import invoice_refresh
from perks.billing.tasks import stripe_event_apply as apply_task

log = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECONDS = 300
DUE_BATCH = 100
SWEPT_FOR = timedelta(days=3)
IGNORED = "ignored: no handler for this type"


def stripe_event_receive(*, payload: bytes, signature: str) -> StripeEvent:
    """Verify and store one delivery; its application follows in a task after commit."""
    _verify(payload, signature)
    try:
        data = json.loads(payload)
        stripe_id, kind = str(data["id"]), str(data["type"])
    except (ValueError, KeyError, TypeError) as error:
        raise StripeSignatureInvalid("The body is not a Stripe event.") from error
    try:
        with transaction.atomic():
            event = StripeEvent.objects.create(
                stripe_id=stripe_id, type=kind, account=str(data.get("account") or ""), payload=data
            )
            apply_task.delay_on_commit(event.pk)
    except IntegrityError:
        event = StripeEvent.objects.get(stripe_id=stripe_id)  # a repeat: stored the first time
    return event


def _verify(payload: bytes, signature: str) -> None:
    """Signed with one of the endpoints' secrets: the platform's endpoint and the Connect
    endpoint (where the connected accounts' deposit events arrive) each have their own,
    and a secret being rotated has two for a while."""
    known = [secret.strip() for secret in settings.STRIPE_WEBHOOK_SECRET.split(",") if secret.strip()]
    if not known:
        raise StripeSignatureInvalid("No Stripe webhook secret is configured, so no event can be verified.")
    for secret in known:
        try:
            stripe.Webhook.construct_event(payload, signature, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS)
            return
        except (stripe.SignatureVerificationError, ValueError):
            continue
    raise StripeSignatureInvalid(param="Stripe-Signature")


def stripe_event_apply(*, event_id: int) -> bool:
    """Apply a stored event if it is not yet applied; whether it was applied now. A failure
    is written on the event and raised, so the task retries (and beat's sweep after it)."""
    try:
        with transaction.atomic():
            event = StripeEvent.objects.select_for_update().get(pk=event_id)
            if event.applied_at is not None:
                return False
            handler = _HANDLERS.get(event.type.split(".")[0])
            result = handler(event, _object_of(event)) if handler else IGNORED
            StripeEvent.objects.filter(pk=event_id).update(
                applied_at=timezone.now(), result=result[:200], error=""
            )
    except Exception as error:
        StripeEvent.objects.filter(pk=event_id, applied_at=None).update(
            error=f"{type(error).__name__}: {error}"[:500]
        )
        raise
    return True


def stripe_events_apply_due(*, batch: int = DUE_BATCH) -> int:
    """Beat's sweep: apply the events still unapplied (a lost task, a failure), oldest
    first, for as long as Stripe itself would retry them; one that fails again is left for
    the next sweep (and older ones for an operator's replay). How many were applied."""
    applied = 0
    recent = timezone.now() - SWEPT_FOR
    due = StripeEvent.objects.filter(applied_at=None, received_at__gte=recent).order_by("received_at", "pk")
    for event_id in due.values_list("pk", flat=True)[:batch]:
        try:
            applied += stripe_event_apply(event_id=event_id)
        except Exception:
            log.exception("stripe event %s could not be applied", event_id)
    return applied


def stripe_event_replay(*, event: StripeEvent) -> StripeEvent:
    """Apply an event again, as an operator asks from the console: it re-reads the object
    from Stripe, so replaying changes only what is out of date. A failure other than a
    refusal is written on the event for the operator to read."""
    StripeEvent.objects.filter(pk=event.pk).update(applied_at=None, error="")
    try:
        stripe_event_apply(event_id=event.pk)
    except DomainError:
        raise
    except Exception:
        log.exception("stripe event %s could not be applied again", event.stripe_id)
    event.refresh_from_db()
    return event


def _object_of(event: StripeEvent) -> dict[str, Any]:
    obj = (event.payload.get("data") or {}).get("object") or {}
    return obj if isinstance(obj, dict) else {}


def _on_payment_intent(event: StripeEvent, obj: dict[str, Any]) -> str:
    deposit = Deposit.objects.filter(payment_intent_id=str(obj.get("id") or "")).first()
    return _deposit_refreshed(deposit)


def _on_setup_intent(event: StripeEvent, obj: dict[str, Any]) -> str:
    deposit = Deposit.objects.filter(setup_intent_id=str(obj.get("id") or "")).first()
    return _deposit_refreshed(deposit)


def _deposit_refreshed(deposit: Deposit | None) -> str:
    if deposit is None:
        return "no deposit of ours"
    deposit = deposit_refresh(deposit=deposit)
    return f"deposit {deposit.ref} {deposit.status}"


def _on_invoice(event: StripeEvent, obj: dict[str, Any]) -> str:
    """Merchants' invoices are on the platform's account: one of a connected account's own
    is none of ours."""
    if event.account:
        return "a connected account's invoice: not ours"
    try:
        invoice = invoice_refresh(stripe_invoice_id=str(obj.get("id") or ""))
    except stripe.InvalidRequestError as error:
        if error.http_status == 404:
            return "no such invoice at Stripe"
        raise
    return "no merchant of ours" if invoice is None else f"invoice {invoice.ref} {invoice.status}"


# By the kind of object an event is about (the part of its type before the first dot).
_HANDLERS: dict[str, Callable[[StripeEvent, dict[str, Any]], str]] = {
    "payment_intent": _on_payment_intent,
    "setup_intent": _on_setup_intent,
    "invoice": _on_invoice,
}
