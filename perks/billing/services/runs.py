"""Monthly invoicing: a merchant's redemptions of a month become invoice items on its Stripe
customer, the subscription's invoice gathers them (with the plan's fee where Stripe puts
it there), and the invoice is paid.

Once per merchant and month, step by step (`RunStep`): each step runs on the locked
`InvoiceRun` row, skips itself when recorded done, and records itself in the transaction
that ends it. Every Stripe create carries an idempotency key derived from the merchant,
the month and the step, so a run killed after Stripe answered and before the step was
recorded gets the same object back from Stripe on the rerun. localstripe keeps no
idempotency keys, so the rerun also looks for what an earlier try made (the invoice item
by its key in metadata, the invoice by its description) before making it.

Usage is counted once the reversal window after the month has closed, so a redemption
reversed within its window is never billed: its negative usage row nets it out. Counting
marks the usage rows invoiced in the same transaction, so a later run never counts them
again; a straggling negative row of an earlier month is netted into the next invoice.
"""

import calendar
import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from loyalty.core.errors import Conflict
from perks.billing.errors import BillingNotConfigured, BillingNotSetUp
from perks.billing.models import BillingProfile, Invoice, InvoiceRun, RunStep
from perks.billing.services.invoices import billing_customer, invoice_mirror, invoice_pay
from perks.billing.stripe_client import (
    as_dict,
    minor_units,
    request_options,
    stripe_client,
    stripe_currency,
    stripe_enabled,
    stripe_errors,
)
from perks.billing.tasks import invoice_run as invoice_run_task
from perks.catalog.models import PerkType
from perks.catalog.money import quantize
from perks.merchants.models import Merchant
from perks.vouchers.models import UsageRecord

log = logging.getLogger(__name__)

_ORDER = list(RunStep.values)
NOTHING_TO_BILL = "nothing_to_bill"
LIST_PAGE = 100


def invoice_run(*, merchant: Merchant, period: date) -> InvoiceRun:
    """Invoice `merchant`'s usage of the month `period` falls in, and charge it; resumes
    where an earlier run stopped, and does nothing once done."""
    if not stripe_enabled():
        raise BillingNotConfigured()
    period = period.replace(day=1)
    end = period_bounds(period)[1]
    if timezone.now() < end + settings.REDEMPTION_REVERSAL_WINDOW:
        raise Conflict(f"{period:%Y-%m} cannot be invoiced before its redemptions' reversal window closes.")
    profile = BillingProfile.objects.select_related("merchant", "plan").filter(merchant=merchant).first()
    if profile is None:
        raise BillingNotSetUp()
    profile = billing_customer(profile)
    run = _run(merchant, period)
    InvoiceRun.objects.filter(pk=run.pk).update(attempts=F("attempts") + 1)
    for step in STEPS:
        try:
            step(run.pk, profile, end)
        except BaseException as error:
            InvoiceRun.objects.filter(pk=run.pk).update(error=f"{step.__name__}: {error!r}"[:300])
            raise
    run.refresh_from_db()
    return run


def invoice_runs_due(*, now: datetime | None = None) -> int:
    """Queue the invoicing of last month for every merchant with a billing profile, once
    that month's reversal window has closed (beat runs this daily; a done run is skipped)."""
    if not stripe_enabled():
        return 0
    now = now or timezone.now()
    this_month = timezone.localtime(now).date().replace(day=1)
    period = (this_month - timedelta(days=1)).replace(day=1)
    if now < period_bounds(period)[1] + settings.REDEMPTION_REVERSAL_WINDOW:
        return 0
    done = InvoiceRun.objects.filter(period=period, step=RunStep.DONE).values("merchant")
    merchants = BillingProfile.objects.exclude(merchant__in=done).values_list("merchant_id", flat=True)
    queued = 0
    for merchant_id in merchants.order_by("merchant_id"):
        invoice_run_task.delay_on_commit(merchant_id, period.isoformat())
        queued += 1
    return queued


def period_bounds(period: date) -> tuple[datetime, datetime]:
    """The month starting on `period` as [start, end) in the platform's time zone."""
    days = calendar.monthrange(period.year, period.month)[1]
    tz = timezone.get_current_timezone()
    start = datetime.combine(period, time.min, tzinfo=tz)
    return start, datetime.combine(period + timedelta(days=days), time.min, tzinfo=tz)


def _run(merchant: Merchant, period: date) -> InvoiceRun:
    try:
        run, _ = InvoiceRun.objects.get_or_create(merchant=merchant, period=period)
    except IntegrityError:
        run = InvoiceRun.objects.get(merchant=merchant, period=period)
    return run


def _step(
    name: str,
) -> Callable[[Callable[..., dict[str, Any]]], Callable[[int, BillingProfile, datetime], None]]:
    """Run the decorated step on the locked run unless it is recorded done, and record the
    fields it returns, with itself done, in the same transaction."""

    def decorate(body: Callable[..., dict[str, Any]]) -> Callable[[int, BillingProfile, datetime], None]:
        def step(run_id: int, profile: BillingProfile, end: datetime) -> None:
            with transaction.atomic():
                run = InvoiceRun.objects.select_for_update().get(pk=run_id)
                if _ORDER.index(run.step) >= _ORDER.index(name):
                    return
                recorded = body(run, profile, end)
                InvoiceRun.objects.filter(pk=run_id).update(
                    step=recorded.pop("step", name), error="", **recorded
                )

        step.__name__ = body.__name__
        return step

    return decorate


@_step(RunStep.COUNTED)
def _count(run: InvoiceRun, profile: BillingProfile, end: datetime) -> dict[str, Any]:
    """Mark the merchant's uninvoiced usage of redemptions before `end` invoiced, and total
    what was marked by perk type: the marked rows are exactly the ones counted."""
    now = timezone.now()
    marked = UsageRecord.objects.filter(
        merchant_id=run.merchant_id, invoiced_at__isnull=True, redemption__created_at__lt=end
    ).update(invoiced_at=now)
    totals: list[dict[str, Any]] = []
    if marked:
        totals = list(
            UsageRecord.objects.filter(merchant_id=run.merchant_id, invoiced_at=now)
            .values(perk_type=F("redemption__voucher__perk__type"))
            .annotate(quantity=Sum("quantity"))
            .order_by("perk_type")
        )
    fees = {fee.perk_type: fee.amount for fee in profile.plan.redemption_fees.all()}
    currency = profile.plan.currency
    lines = []
    for total in totals:
        fee = fees.get(total["perk_type"], Decimal(0))
        if total["quantity"] and fee:
            lines.append(
                {
                    "perk_type": total["perk_type"],
                    "quantity": total["quantity"],
                    "unit_amount": str(fee),
                    "amount": str(quantize(fee * total["quantity"], currency)),
                    "currency": currency,
                    "stripe_item_id": "",
                }
            )
    return {"lines": lines, "counted_at": now}


@_step(RunStep.ITEMIZED)
def _itemize(run: InvoiceRun, profile: BillingProfile, end: datetime) -> dict[str, Any]:
    """One invoice item a line, each made once."""
    if not run.lines:
        return {"itemized_at": timezone.now()}
    client = stripe_client()
    with stripe_errors():
        made = _made_earlier(client.v1.invoice_items.list, profile.stripe_customer_id)
        lines = []
        for line in run.lines:
            key = f"{_run_key(run, profile)}:item:{line['perk_type']}"
            item_id = line["stripe_item_id"] or made.get(key) or _item_create(client, profile, line, key, run)
            lines.append({**line, "stripe_item_id": item_id})
    return {"lines": lines, "itemized_at": timezone.now()}


@_step(RunStep.INVOICED)
def _invoice(run: InvoiceRun, profile: BillingProfile, end: datetime) -> dict[str, Any]:
    """The subscription's invoice, gathering the items; nothing when there was no usage to
    bill (the subscription invoices its fee on its own cycle then)."""
    now = timezone.now()
    if not run.lines:
        return {"invoiced_at": now, "finished_at": now, "outcome": NOTHING_TO_BILL, "step": RunStep.DONE}
    client = stripe_client()
    description = _description(run, profile)
    with stripe_errors():
        found = _invoice_made_earlier(client, profile, description)
        if found is None:
            details: Any = {
                "customer": profile.stripe_customer_id,
                "description": description,
                "metadata": {"perkline_run": _run_key(run, profile)},
                "pending_invoice_items_behavior": "include",
            }
            if profile.stripe_subscription_id:
                details["subscription"] = profile.stripe_subscription_id
            found = client.v1.invoices.create(
                details, request_options(idempotency_key=f"{_run_key(run, profile)}:invoice")
            )
    start, end_ = period_bounds(run.period)
    invoice = invoice_mirror(found, period=(start.date(), end_.date()), issued_at=now)
    return {"invoice": invoice, "invoiced_at": now}


@_step(RunStep.DONE)
def _charge(run: InvoiceRun, profile: BillingProfile, end: datetime) -> dict[str, Any]:
    assert run.invoice_id is not None  # recorded by the step before
    invoice = Invoice.objects.get(pk=run.invoice_id)
    invoice = invoice_pay(invoice=invoice, idempotency_key=f"{_run_key(run, profile)}:pay")
    return {"finished_at": timezone.now(), "outcome": invoice.status}


STEPS = (_count, _itemize, _invoice, _charge)


def _item_create(
    client: stripe.StripeClient, profile: BillingProfile, line: dict[str, Any], key: str, run: InvoiceRun
) -> str:
    label = PerkType(line["perk_type"]).label
    item = client.v1.invoice_items.create(
        {
            "customer": profile.stripe_customer_id,
            "amount": minor_units(Decimal(line["amount"]), line["currency"]),
            "currency": stripe_currency(line["currency"]),
            "description": f"{line['quantity']} × {label} redeemed, {run.period:%B %Y}",
            "metadata": {"perkline_key": key},
        },
        request_options(idempotency_key=key),
    )
    return str(item.id)


def _made_earlier(listing: Callable[..., Any], customer: str) -> dict[str, str]:
    """Invoice items a crashed try made and never recorded, by the key in their metadata."""
    found: dict[str, str] = {}
    for item in listing({"customer": customer, "limit": LIST_PAGE}).auto_paging_iter():
        key = as_dict(as_dict(item).get("metadata")).get("perkline_key")
        if key:
            found[str(key)] = str(item.id)
    return found


def _invoice_made_earlier(client: stripe.StripeClient, profile: BillingProfile, description: str) -> Any:
    for invoice in client.v1.invoices.list(
        {"customer": profile.stripe_customer_id, "limit": LIST_PAGE}
    ).auto_paging_iter():
        if invoice.description == description:
            return invoice
    return None


def _run_key(run: InvoiceRun, profile: BillingProfile) -> str:
    return f"perkline-invoice:{profile.merchant.ref}:{run.period:%Y-%m}"


def _description(run: InvoiceRun, profile: BillingProfile) -> str:
    return f"Perkline {run.period:%B %Y} for {profile.merchant.name} ({profile.merchant.ref})"
