"""Billing: what the platform charges merchants, the deposits partners hold on members'
cards, and the Stripe events that report how both went.

Stripe keeps the money; these rows mirror what it holds and record what was asked of it,
so a rerun never asks twice. The database refuses what must never happen: a Stripe event
or object recorded twice, a negative amount, a capture over the amount held, a waived
deposit without the voucher that waived it.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.core.constraints import unique_text
from loyalty.core.crypto import EncryptedTextField
from loyalty.core.refs import ref_field
from loyalty.members.models import Member
from perks.catalog.models import PerkType
from perks.merchants.models import Location, Merchant
from perks.vouchers.models import Redemption, Voucher

DEPOSIT_REF_PREFIX = "dep"
INVOICE_REF_PREFIX = "inv"
STRIPE_ID_LENGTH = 255


def _money() -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=4)


def _stripe_id(*, blank: bool = False, editable: bool = True) -> models.CharField:
    return models.CharField(max_length=STRIPE_ID_LENGTH, blank=blank, editable=editable)


def _unique_when_set(field: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(
        fields=[field], condition=~Q(**{field: ""}), name=f"%(app_label)s_%(class)s_{field}_unique"
    )


class PlanPrice(models.Model):
    """A platform plan: its monthly fee and, in `redemption_fees`, a fee per redemption by
    perk type. Edited by the operator; `stripe_plan_id` is made on first need and dropped
    when the fee changes, so the next subscription gets the new price."""

    name = models.CharField(max_length=120)
    currency = models.CharField(max_length=3)
    monthly_fee = _money()
    is_default = models.BooleanField(default=False)
    stripe_plan_id = _stripe_id(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(monthly_fee__gte=0), name="plan_price_fee_not_negative"),
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="plan_price_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.monthly_fee} {self.currency} a month)"


class RedemptionFee(models.Model):
    """What a merchant on `plan` pays for each redemption of a perk of `perk_type`."""

    plan = models.ForeignKey(PlanPrice, on_delete=models.CASCADE, related_name="redemption_fees")
    perk_type = models.CharField(max_length=16, choices=PerkType.choices)
    amount = _money()

    class Meta:
        ordering = ["plan", "perk_type"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "perk_type"], name="redemption_fee_once_per_type"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="redemption_fee_not_negative"),
            models.CheckConstraint(
                condition=Q(perk_type__in=PerkType.values), name="redemption_fee_type_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.perk_type}: {self.amount}"


class BillingStatus(models.TextChoices):
    ACTIVE = "active", _("In good standing")
    PAUSED_BILLING = "paused_billing", _("New vouchers paused for an unpaid invoice")


class BillingProfile(models.Model):
    """A merchant as Stripe knows it: its customer on the platform's account (billed the
    plan), its subscription, and its own connected account (where deposits are held)."""

    merchant = models.OneToOneField(Merchant, on_delete=models.PROTECT, related_name="billing_profile")
    plan = models.ForeignKey(PlanPrice, on_delete=models.PROTECT, related_name="profiles")
    stripe_customer_id = _stripe_id(blank=True)
    stripe_subscription_id = _stripe_id(blank=True)
    stripe_account = _stripe_id(blank=True)
    status = models.CharField(max_length=16, choices=BillingStatus.choices, default=BillingStatus.ACTIVE)
    paused_at = models.DateTimeField(null=True, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)
    # The owners' email about the last pause or resumption ("paused" or "resumed") until it
    # is sent, set in the transaction that made the change: beat's sweep sends what a
    # broker that was down kept from its task. A newer change replaces an unsent notice.
    notice_due = models.CharField(max_length=16, blank=True)
    notice_invoice = models.ForeignKey(
        "Invoice", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            _unique_when_set("stripe_customer_id"),
            _unique_when_set("stripe_account"),
            models.CheckConstraint(condition=Q(status__in=BillingStatus.values), name="billing_status_known"),
        ]

    def __str__(self) -> str:
        return f"billing of {self.merchant}"


class InvoiceStatus(models.TextChoices):
    """Stripe's invoice states; an invoice only ever moves down this list."""

    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Awaiting payment")
    UNCOLLECTIBLE = "uncollectible", _("Uncollectible")
    PAID = "paid", _("Paid")
    VOID = "void", _("Void")


class Invoice(models.Model):
    """A Stripe invoice of a merchant, as last seen. Its grace period runs from `issued_at`."""

    ref = ref_field(INVOICE_REF_PREFIX)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="invoices")
    stripe_id = _stripe_id()
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    amount_due = _money()
    amount_paid = _money()
    status = models.CharField(max_length=16, choices=InvoiceStatus.choices)
    issued_at = models.DateTimeField(default=timezone.now)
    payment_failed_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-issued_at"]),
            models.Index(
                fields=["issued_at"],
                condition=Q(status__in=["open", "uncollectible"]),
                name="invoice_awaiting_payment",
            ),
        ]
        constraints = [
            unique_text("ref"),
            unique_text("stripe_id"),
            models.CheckConstraint(condition=Q(status__in=InvoiceStatus.values), name="invoice_status_known"),
            models.CheckConstraint(
                condition=Q(amount_due__gte=0, amount_paid__gte=0, amount_paid__lte=F("amount_due")),
                name="invoice_amounts_consistent",
            ),
            models.CheckConstraint(
                condition=~Q(status=InvoiceStatus.PAID) | Q(paid_at__isnull=False), name="invoice_paid_when"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ref} ({self.status})"


class RunStep(models.TextChoices):
    """The steps of a merchant's monthly invoicing, in order; each is recorded once done."""

    STARTED = "started", _("Started")
    COUNTED = "counted", _("Usage counted")
    ITEMIZED = "itemized", _("Invoice items created")
    INVOICED = "invoiced", _("Invoice created")
    DONE = "done", _("Payment attempted")


class InvoiceRun(models.Model):
    """One merchant's invoicing of one month, step by step, so that a rerun, or a run after a
    crash, resumes at the first step not recorded and asks Stripe for nothing twice.

    `lines` are the usage counted (one per perk type, with the Stripe invoice item each
    became); the usage rows counted are marked invoiced in the same transaction.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="invoice_runs")
    period = models.DateField(help_text="The first day of the month invoiced.")
    step = models.CharField(max_length=16, choices=RunStep.choices, default=RunStep.STARTED)
    lines = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)
    invoice = models.OneToOneField(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="run"
    )
    outcome = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    counted_at = models.DateTimeField(null=True, blank=True)
    itemized_at = models.DateTimeField(null=True, blank=True)
    invoiced_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period", "merchant"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "period"], name="invoice_run_once_per_period"),
            models.CheckConstraint(condition=Q(step__in=RunStep.values), name="invoice_run_step_known"),
        ]

    def __str__(self) -> str:
        return f"{self.merchant} {self.period:%Y-%m}: {self.step}"


class DepositStatus(models.TextChoices):
    WAIVED = "waived", _("Waived by a voucher")
    REQUIRES_PAYMENT_METHOD = "requires_payment_method", _("Waiting for a card")
    REQUIRES_ACTION = "requires_action", _("Waiting for the card holder to authenticate")
    HELD = "held", _("Held on the card")
    RELEASED = "released", _("Released")
    CAPTURED = "captured", _("Captured")
    EXPIRED = "expired", _("Expired")


class CapturePolicy(models.TextChoices):
    """What happens to a hold still open when its authorisation is about to lapse."""

    RELEASE = "release", _("Release it")
    CAPTURE = "capture", _("Capture it in full")


class Deposit(models.Model):
    """A deposit a merchant asks of a member: waived by a voucher of the merchant's, or held
    on the member's card by a manual-capture PaymentIntent on the merchant's connected
    Stripe account until it is released or captured.

    `client_secret` is kept only while the member has something to complete in the browser
    (saving a card, 3-D Secure), and cleared when the deposit moves on; while kept, it is
    encrypted at rest, as whoever holds it can complete the member's payment.
    """

    ref = ref_field(DEPOSIT_REF_PREFIX)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="deposits", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="deposits")
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    amount = _money()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=32, choices=DepositStatus.choices)
    capture_policy = models.CharField(
        max_length=16, choices=CapturePolicy.choices, default=CapturePolicy.RELEASE
    )
    waived_by = models.ForeignKey(
        Voucher, null=True, blank=True, on_delete=models.PROTECT, related_name="waived_deposits"
    )
    redemption = models.OneToOneField(
        Redemption, null=True, blank=True, on_delete=models.PROTECT, related_name="waived_deposit"
    )
    stripe_account = _stripe_id(blank=True)
    stripe_customer_id = _stripe_id(blank=True)
    payment_intent_id = _stripe_id(blank=True)
    setup_intent_id = _stripe_id(blank=True)
    client_secret = EncryptedTextField(blank=True)
    captured_amount = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    actor = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    status_changed_at = models.DateTimeField(default=timezone.now)
    held_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-created_at", "-id"]),
            models.Index(
                fields=["expires_at"],
                condition=Q(status__in=["requires_payment_method", "requires_action", "held"]),
                name="deposit_open_until",
            ),
        ]
        constraints = [
            unique_text("ref"),
            _unique_when_set("payment_intent_id"),
            _unique_when_set("setup_intent_id"),
            models.CheckConstraint(condition=Q(status__in=DepositStatus.values), name="deposit_status_known"),
            models.CheckConstraint(
                condition=Q(capture_policy__in=CapturePolicy.values), name="deposit_capture_policy_known"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="deposit_amount_positive"),
            models.CheckConstraint(
                condition=Q(captured_amount__isnull=True)
                | Q(captured_amount__gte=0, captured_amount__lte=F("amount")),
                name="deposit_captured_within_held",
            ),
            models.CheckConstraint(
                condition=~Q(status=DepositStatus.CAPTURED) | Q(captured_amount__isnull=False),
                name="deposit_captured_says_how_much",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=DepositStatus.WAIVED, waived_by__isnull=False, redemption__isnull=False)
                    | (~Q(status=DepositStatus.WAIVED) & Q(waived_by__isnull=True, redemption__isnull=True))
                ),
                name="deposit_waived_iff_by_a_voucher",
            ),
            models.CheckConstraint(
                condition=~Q(status=DepositStatus.HELD)
                | (~Q(payment_intent_id="") & Q(held_at__isnull=False)),
                name="deposit_held_on_an_intent",
            ),
        ]

    def __str__(self) -> str:
        return self.ref


class MemberStripeCustomer(models.Model):
    """The customer a member is on a merchant's connected account, made on first need and
    reused, so the cards saved there are found again for the next deposit."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    stripe_account = _stripe_id()
    customer_id = _stripe_id()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "stripe_account"], name="member_customer_once_per_account"
            ),
            models.UniqueConstraint(
                fields=["stripe_account", "customer_id"], name="member_customer_id_unique_in_account"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} on {self.stripe_account}"


class StripeEvent(models.Model):
    """An event Stripe sent, stored under its id as it arrived, then applied once by a task.

    Applying never trusts the payload's copy of the object: it fetches the object again and
    acts on its status, so events applied in any order leave the same state.
    """

    stripe_id = _stripe_id()
    type = models.CharField(max_length=100)
    account = _stripe_id(blank=True)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    applied_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["received_at"], condition=Q(applied_at=None), name="stripe_event_unapplied"),
        ]
        constraints = [unique_text("stripe_id")]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id}"
