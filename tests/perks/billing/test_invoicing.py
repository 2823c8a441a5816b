"""Monthly invoicing against a real localstripe: a month's usage becomes invoice items and one
paid invoice, once, however often the run is repeated or wherever it is killed (invariant 7);
usage reversed within its window is not billed."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from loyalty.core.errors import Conflict
from perks.billing.models import Invoice, InvoiceRun, InvoiceStatus, RunStep
from perks.billing.services import (
    billing_card_save,
    billing_card_setup,
    invoice_run,
    invoice_runs_due,
    period_bounds,
)
from perks.billing.services import runs as runs_module
from perks.catalog.models import PerkType
from perks.vouchers.models import UsageRecord
from perks.vouchers.services import (
    redemption_reverse,
    redemption_side_effects_apply,
    reversal_side_effects_apply,
    voucher_issue,
    voucher_redeem,
)
from tests.factories import PerkFactory

pytestmark = pytest.mark.django_db

PERIOD = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)  # last month
START, END = period_bounds(PERIOD)
AFTER_THE_WINDOW = END + timedelta(days=2)


def card_saved(stripe, merchant, owner, number="4242424242424242"):
    """The owner saves the merchant's card in the portal, as Stripe.js does it."""
    secret = billing_card_setup(merchant=merchant, actor=owner)
    stripe.card_setup_confirm(secret, number=number)
    return billing_card_save(merchant=merchant, actor=owner, setup_intent_id=secret.split("_secret_")[0])


def redeemed(merchant, owner, member, perk, *, at, reverse=False):
    """A voucher of `perk` redeemed at `at` (and reversed an hour later), with its usage rows."""
    with time_machine.travel(at, tick=False):
        voucher = voucher_issue(perk=perk, member=member, actor=owner)
        redemption = voucher_redeem(merchant=merchant, actor=owner, code=voucher.code)
        redemption_side_effects_apply(redemption_id=redemption.pk)
    if reverse:
        with time_machine.travel(at + timedelta(hours=1), tick=False):
            reversal = redemption_reverse(redemption=redemption, actor=owner, reason="Refunded")
            reversal_side_effects_apply(reversal_id=reversal.pk)
    return redemption


@pytest.fixture
def usage(merchant, owner, member, waiver_perk):
    """In the month: three coffees (one reversed within its window) and one deposit waiver;
    and one coffee after the month, for the next invoice."""
    coffee = PerkFactory.create(merchant=merchant, valid_from=START - timedelta(days=1))
    waiver_perk.valid_from = START - timedelta(days=1)
    waiver_perk.save()
    middle = START + timedelta(days=10)
    for hours, reverse in ((0, False), (1, True), (2, False)):
        redeemed(merchant, owner, member, coffee, at=middle + timedelta(hours=hours), reverse=reverse)
    redeemed(merchant, owner, member, waiver_perk, at=middle + timedelta(hours=5))
    redeemed(merchant, owner, member, coffee, at=END + timedelta(hours=1))
    return coffee


def invoices_at_stripe(stripe, profile):
    return stripe.get("/v1/invoices", customer=profile.stripe_customer_id, limit=100)["data"]


def pending_items(stripe, profile):
    return stripe.get("/v1/invoiceitems", customer=profile.stripe_customer_id, limit=100)["data"]


def run_now(merchant):
    with time_machine.travel(AFTER_THE_WINDOW):
        return invoice_run(merchant=merchant, period=PERIOD)


@pytest.fixture
def subscribed(stripe_on, profile, merchant, owner):
    return card_saved(stripe_on, merchant, owner)


def test_a_month_is_invoiced_and_paid_once_however_often_the_run_is_repeated(
    stripe_on, subscribed, merchant, usage
):
    before = len(invoices_at_stripe(stripe_on, subscribed))  # the subscription's first month

    run = run_now(merchant)

    assert (run.step, run.outcome) == (RunStep.DONE, InvoiceStatus.PAID)
    assert [(line["perk_type"], line["quantity"], line["amount"]) for line in run.lines] == [
        (PerkType.DEPOSIT_WAIVER, 1, "2.00"),
        (PerkType.FREE_ITEM, 2, "1.00"),  # three redeemed, one reversed in its window
    ]
    invoice = run.invoice
    assert (invoice.status, invoice.period_start, invoice.currency) == (InvoiceStatus.PAID, PERIOD, "CNY")
    stripe_invoice = stripe_on.get(f"/v1/invoices/{invoice.stripe_id}")
    item_lines = sorted(
        line["amount"] for line in stripe_invoice["lines"]["data"] if line["type"] == "invoiceitem"
    )
    assert item_lines == [100, 200]
    assert invoice.amount_due == invoice.amount_paid == Decimal(stripe_invoice["amount_due"]) / 100

    again = run_now(merchant)

    assert (again.pk, again.step, again.attempts) == (run.pk, RunStep.DONE, 2)
    assert len(invoices_at_stripe(stripe_on, subscribed)) == before + 1
    assert pending_items(stripe_on, subscribed) == []
    assert Invoice.objects.filter(merchant=merchant).count() == before + 1
    assert (
        UsageRecord.objects.filter(merchant=merchant, invoiced_at__isnull=True).count() == 1
    )  # next month's


def test_a_run_killed_between_the_items_and_the_invoice_resumes_without_repeating_a_step(
    stripe_on, subscribed, merchant, usage, monkeypatch
):
    def killed(*args):
        raise SystemExit("worker killed")

    steps = runs_module.STEPS
    monkeypatch.setattr(runs_module, "STEPS", (steps[0], steps[1], killed, *steps[2:]))
    with pytest.raises(SystemExit):
        run_now(merchant)

    run = InvoiceRun.objects.get(merchant=merchant, period=PERIOD)
    assert run.step == RunStep.ITEMIZED
    assert "worker killed" in run.error
    made = {item["id"] for item in pending_items(stripe_on, subscribed)}
    assert made == {line["stripe_item_id"] for line in run.lines}
    before = len(invoices_at_stripe(stripe_on, subscribed))

    monkeypatch.setattr(runs_module, "STEPS", steps)
    run = run_now(merchant)

    assert (run.step, run.outcome, run.error) == (RunStep.DONE, InvoiceStatus.PAID, "")
    assert len(invoices_at_stripe(stripe_on, subscribed)) == before + 1
    stripe_invoice = stripe_on.get(f"/v1/invoices/{run.invoice.stripe_id}")
    assert {
        line["invoice_item"] for line in stripe_invoice["lines"]["data"] if line["type"] == "invoiceitem"
    } == made
    assert pending_items(stripe_on, subscribed) == []


def test_a_run_killed_after_stripe_made_an_item_but_before_it_was_recorded_makes_it_once(
    stripe_on, subscribed, merchant, usage, monkeypatch
):
    made = runs_module._item_create

    def made_then_killed(*args):
        made(*args)
        raise SystemExit("worker killed")

    monkeypatch.setattr(runs_module, "_item_create", made_then_killed)
    with pytest.raises(SystemExit):
        run_now(merchant)
    assert InvoiceRun.objects.get(merchant=merchant).step == RunStep.COUNTED
    assert len(pending_items(stripe_on, subscribed)) == 1

    monkeypatch.setattr(runs_module, "_item_create", made)
    run = run_now(merchant)

    assert run.step == RunStep.DONE
    stripe_invoice = stripe_on.get(f"/v1/invoices/{run.invoice.stripe_id}")
    assert sorted(
        line["amount"] for line in stripe_invoice["lines"]["data"] if line["type"] == "invoiceitem"
    ) == [
        100,
        200,
    ]


def test_a_month_without_billable_usage_makes_no_invoice(stripe_on, subscribed, merchant):
    before = len(invoices_at_stripe(stripe_on, subscribed))

    run = run_now(merchant)

    assert (run.step, run.outcome, run.invoice) == (RunStep.DONE, "nothing_to_bill", None)
    assert len(invoices_at_stripe(stripe_on, subscribed)) == before


def test_a_month_is_not_invoiced_before_its_reversal_window_closes(stripe_on, subscribed, merchant):
    with time_machine.travel(END + timedelta(hours=1)), pytest.raises(Conflict):
        invoice_run(merchant=merchant, period=PERIOD)
    assert not InvoiceRun.objects.exists()


def test_beat_queues_last_month_for_each_merchant_not_done(stripe_on, subscribed, merchant):
    first_day = datetime.combine(END.date(), time(4, 45), tzinfo=END.tzinfo)
    with time_machine.travel(first_day):
        assert invoice_runs_due() == 0  # the window is still open
    with time_machine.travel(first_day + timedelta(days=1)):
        assert invoice_runs_due() == 1
    run_now(merchant)
    with time_machine.travel(first_day + timedelta(days=1)):
        assert invoice_runs_due() == 0


def test_a_period_is_a_calendar_month_of_the_platform():
    start, end = period_bounds(date(2024, 2, 1))
    assert (start.date(), end.date(), start.utcoffset(), (end - start).days) == (
        date(2024, 2, 1),
        date(2024, 3, 1),
        timedelta(hours=8),
        29,
    )
