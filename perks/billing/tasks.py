"""Background work of billing. Each task takes ids, calls one service, and is safe to run
twice. Services enqueue these, so each task imports what it calls inside (loyalty/core/tasks.py).

An unreachable Stripe is worth retrying like a lost connection: the jobs that talk to it
retry on `payment_provider_unavailable` too, and beat sweeps up after them.
"""

from datetime import date

from loyalty.core.tasks import TRANSIENT_ERRORS, task
from perks.billing.errors import PaymentProviderUnavailable

_STRIPE_RETRIES = {"autoretry_for": (*TRANSIENT_ERRORS, PaymentProviderUnavailable)}


@task("billing.stripe_event_apply", **_STRIPE_RETRIES)
def stripe_event_apply(event_id: int) -> bool:
    from perks.billing.services.stripe_events import stripe_event_apply as apply

    return apply(event_id=event_id)


@task("billing.stripe_events_apply_due")
def stripe_events_apply_due() -> int:
    from perks.billing.services.stripe_events import stripe_events_apply_due as apply_due

    return apply_due()


@task("billing.invoice_runs_due")
def invoice_runs_due() -> int:
    from perks.billing.services.runs import invoice_runs_due as queue

    return queue()


@task("billing.invoice_run", **_STRIPE_RETRIES)
def invoice_run(merchant_id: int, period: str) -> str:
    from perks.billing.services.runs import invoice_run as run
    from perks.merchants.models import Merchant

    return run(merchant=Merchant.objects.get(pk=merchant_id), period=date.fromisoformat(period)).step


@task("billing.dunning_due", **_STRIPE_RETRIES)
def dunning_due() -> int:
    from perks.billing.services.invoices import dunning_due as pause_overdue

    return pause_overdue()


@task("billing.deposits_due", **_STRIPE_RETRIES)
def deposits_due() -> int:
    from perks.billing.services.deposits import deposits_due as apply_due

    return apply_due()


@task("billing.billing_notice_send")
def billing_notice_send(merchant_id: int, notice: str, invoice_id: int | None) -> int:
    from perks.billing.services.invoices import billing_notice_send as send

    return send(merchant_id=merchant_id, notice=notice, invoice_id=invoice_id)


@task("billing.billing_notices_due")
def billing_notices_due() -> int:
    from perks.billing.services.invoices import billing_notices_due as send_due

    return send_due()
