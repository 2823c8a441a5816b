"""Merchant billing: plans and fees, a merchant's billing profile and card, its invoices as
Stripe has them, and dunning.

A merchant is a customer on the platform's Stripe account, subscribed to its plan. Its
invoices are mirrored here whenever Stripe is asked about one (after a payment, on an
event, before dunning acts), and an invoice only moves forward (draft, open, then paid or
void), whatever order the news arrives in.

Dunning: an invoice still open BILLING_GRACE_DAYS after it was issued pauses the
merchant's billing (new vouchers are refused, `billing_paused`); the vouchers members hold
stay redeemable. Paying it resumes billing. Each change emits its webhook and emails the
owners, once, from the transaction that makes it.

The pause is the billing profile's status, not the merchant's: `MerchantStatus.PAUSED_BILLING`
makes every perk of the merchant not live (perks.catalog.rules.perk_is_live), which would
refuse the redemption of vouchers members already hold.
"""

import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from loyalty.core.errors import Conflict, Invalid
from perks.billing.errors import BillingNotConfigured, BillingNotSetUp, PaymentFailed
from perks.billing.models import (
    BillingProfile,
    BillingStatus,
    Invoice,
    InvoiceStatus,
    PlanPrice,
    RedemptionFee,
)
from perks.billing.stripe_client import (
    as_dict,
    from_minor_units,
    minor_units,
    object_id,
    request_options,
    stripe_client,
    stripe_currency,
    stripe_enabled,
    stripe_errors,
)
from perks.billing.tasks import billing_notice_send as notice_task
from perks.catalog.models import PerkType
from perks.catalog.money import amount_parse, currency_code, quantize
from perks.merchants.models import Merchant, Staff
from perks.merchants.permissions import Permission, Role
from perks.merchants.services import Actor, actor_require, audit_record, webhook_emit

log = logging.getLogger(__name__)

DUNNING_BATCH = 500
# An invoice only moves to a later rank; paid and void are final.
_RANK: dict[str, int] = {
    InvoiceStatus.DRAFT: 0,
    InvoiceStatus.OPEN: 1,
    InvoiceStatus.UNCOLLECTIBLE: 2,
    InvoiceStatus.PAID: 3,
    InvoiceStatus.VOID: 3,
}
# Owed: dunning counts from these, and paying (or voiding) the last of them resumes billing.
UNPAID = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
NOTICE_PAUSED = "paused"
NOTICE_RESUMED = "resumed"
# A notice still due this long after its change lost its task.
NOTICE_GRACE = timedelta(minutes=2)


# --- Plans -----------------------------------------------------------------------------------


def plan_price_create(
    *, name: str, currency: str, monthly_fee: Decimal | str, is_default: bool = False
) -> PlanPrice:
    currency = currency_code(currency, param="currency")
    plan = PlanPrice(
        name=_text(name, "name"),
        currency=currency,
        monthly_fee=amount_parse(monthly_fee, currency=currency, param="monthly_fee"),
        is_default=is_default,
    )
    with transaction.atomic():
        if is_default:
            PlanPrice.objects.filter(is_default=True).update(is_default=False)
        plan.save(force_insert=True)
    return plan


def plan_price_update(
    *,
    plan: PlanPrice,
    name: str | None = None,
    monthly_fee: Decimal | str | None = None,
    is_default: bool | None = None,
) -> PlanPrice:
    """Change a plan; a new fee makes a new Stripe plan for the subscriptions made after it
    (Stripe's prices cannot change: subscribers keep theirs until moved)."""
    changes: dict[str, Any] = {"updated_at": timezone.now()}
    if name is not None:
        changes["name"] = _text(name, "name")
    if monthly_fee is not None:
        fee = amount_parse(monthly_fee, currency=plan.currency, param="monthly_fee")
        if fee != plan.monthly_fee:
            changes.update(monthly_fee=fee, stripe_plan_id="")
    if is_default is not None:
        changes["is_default"] = is_default
    with transaction.atomic():
        if is_default:
            PlanPrice.objects.filter(is_default=True).exclude(pk=plan.pk).update(is_default=False)
        PlanPrice.objects.filter(pk=plan.pk).update(**changes)
    plan.refresh_from_db()
    return plan


def redemption_fee_set(*, plan: PlanPrice, perk_type: str, amount: Decimal | str) -> RedemptionFee:
    """What each redemption of a perk of `perk_type` costs a merchant on `plan`."""
    if perk_type not in PerkType.values:
        raise Invalid(f"perk_type is one of {', '.join(PerkType.values)}.", param="perk_type")
    fee, _ = RedemptionFee.objects.update_or_create(
        plan=plan,
        perk_type=perk_type,
        defaults={"amount": amount_parse(amount, currency=plan.currency, param="amount")},
    )
    return fee


# --- Profiles and cards ------------------------------------------------------------------------


def billing_profile_create(
    *, merchant: Merchant, actor: User | None, plan: PlanPrice | None = None, stripe_account: str = ""
) -> BillingProfile:
    """Put `merchant` on `plan` (the default plan when not given), with its connected
    account for deposits if it has one. With Stripe on, it becomes a customer on the
    platform's account now; with Stripe off, on the first billing step once Stripe is on.
    It is subscribed once a card is saved (`billing_card_save`)."""
    plan = plan or PlanPrice.objects.filter(is_default=True).first()
    if plan is None:
        raise Invalid("There is no default plan: create one in the operator console first.", param="plan")
    account = _account(stripe_account)
    if BillingProfile.objects.filter(merchant=merchant).exists():
        raise Conflict("This merchant already has a billing profile.")
    customer = _customer_create(merchant) if stripe_enabled() else ""
    try:
        with transaction.atomic():
            profile = BillingProfile.objects.create(
                merchant=merchant, plan=plan, stripe_customer_id=customer, stripe_account=account
            )
            audit_record(merchant=merchant, actor=actor, action="billing.profile_created", target=plan.name)
    except IntegrityError:
        raise Conflict("This merchant already has a billing profile.") from None
    return profile


def billing_customer(profile: BillingProfile) -> BillingProfile:
    """The profile with its Stripe customer on the platform's account, made on first need
    when the profile was made with Stripe off."""
    if not profile.stripe_customer_id:
        customer = _customer_create(profile.merchant)
        BillingProfile.objects.filter(pk=profile.pk, stripe_customer_id="").update(
            stripe_customer_id=customer
        )
        profile.refresh_from_db()
    return profile


def _customer_create(merchant: Merchant) -> str:
    """The merchant's customer at Stripe; its idempotency key makes a retry, or two makers
    at once, get the same one."""
    details: Any = {"name": merchant.name, "metadata": {"perkline_merchant": merchant.ref}}
    if owners := _owner_emails(merchant):
        details["email"] = owners[0]
    with stripe_errors():
        customer = stripe_client().v1.customers.create(
            details, request_options(idempotency_key=f"merchant-customer:{merchant.ref}")
        )
    return str(customer.id)


def billing_account_set(*, merchant: Merchant, actor: User | None, stripe_account: str) -> BillingProfile:
    """The merchant's connected Stripe account, where its deposits are held (set by the
    operator once the merchant has onboarded with Stripe Connect)."""
    profile = BillingProfile.objects.filter(merchant=merchant).first()
    if profile is None:
        raise BillingNotSetUp()
    account = _account(stripe_account)
    try:
        with transaction.atomic():
            BillingProfile.objects.filter(pk=profile.pk).update(stripe_account=account)
            audit_record(merchant=merchant, actor=actor, action="billing.account_set", target=account)
    except IntegrityError:
        raise Invalid("Another merchant has this connected account.", param="stripe_account") from None
    profile.stripe_account = account
    return profile


def billing_card_setup(*, merchant: Merchant, actor: Actor) -> str:
    """The client_secret of a SetupIntent with which the portal saves the merchant's card
    (Stripe.js `confirmCardSetup`); then `billing_card_save` with its id."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.BILLING_VIEW)
    profile = _profile(merchant)
    with stripe_errors():
        setup = stripe_client().v1.setup_intents.create(
            {"customer": profile.stripe_customer_id, "usage": "off_session"}
        )
    return str(setup.client_secret)


def billing_card_save(*, merchant: Merchant, actor: Actor, setup_intent_id: str) -> BillingProfile:
    """Make the card the SetupIntent saved the merchant's card for its invoices: subscribe
    to the plan if it is not yet, and pay again what is open (which resumes billing)."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.BILLING_VIEW)
    profile = _profile(merchant)
    client = stripe_client()
    with stripe_errors():
        setup = client.v1.setup_intents.retrieve(setup_intent_id)
        if object_id(setup.customer) != profile.stripe_customer_id:
            raise Invalid("This card setup is not this merchant's.", param="setup_intent")
        card = object_id(setup.payment_method)
        if setup.status != "succeeded" or not card:
            raise PaymentFailed("The card is not saved yet: complete the card form first.")
        if object_id(client.v1.payment_methods.retrieve(card).customer) != profile.stripe_customer_id:
            client.v1.payment_methods.attach(card, {"customer": profile.stripe_customer_id})
        client.v1.customers.update(
            profile.stripe_customer_id, {"invoice_settings": {"default_payment_method": card}}
        )
    audit_record(merchant=merchant, actor=actor, action="billing.card_saved", target=card)
    profile = billing_subscribe(merchant=merchant)
    for invoice in Invoice.objects.filter(merchant=merchant, status__in=UNPAID).order_by("issued_at"):
        invoice_pay(invoice=invoice, idempotency_key=f"{invoice.stripe_id}:pay:{card}")
    return profile


def billing_subscribe(*, merchant: Merchant) -> BillingProfile:
    """Subscribe the merchant to its plan, once: Stripe invoices the first month at once,
    to the card saved as the customer's default."""
    profile = _profile(merchant)
    if profile.stripe_subscription_id:
        return profile
    client = stripe_client()
    plan_id = _stripe_plan(client, profile.plan)
    with stripe_errors():
        subscription = client.v1.subscriptions.create(
            {
                "customer": profile.stripe_customer_id,
                "items": [{"plan": plan_id}],
                "metadata": {"perkline_merchant": profile.merchant.ref},
            },
            request_options(idempotency_key=f"subscription:{profile.merchant.ref}:{plan_id}"),
        )
    BillingProfile.objects.filter(pk=profile.pk).update(stripe_subscription_id=subscription.id)
    profile.stripe_subscription_id = subscription.id
    if subscription.latest_invoice:
        invoice_refresh(stripe_invoice_id=object_id(subscription.latest_invoice))
    return profile


def _stripe_plan(client: stripe.StripeClient, plan: PlanPrice) -> str:
    """The plan's price at Stripe, made on first need."""
    if plan.stripe_plan_id:
        return plan.stripe_plan_id
    amount = minor_units(plan.monthly_fee, plan.currency)
    with stripe_errors():
        made = client.v1.plans.create(
            {
                "amount": amount,
                "currency": stripe_currency(plan.currency),
                "interval": "month",
                "product": {"name": plan.name},
                "metadata": {"perkline_plan": str(plan.pk)},
            },
            request_options(idempotency_key=f"plan:{plan.pk}:{amount}:{plan.currency}"),
        )
    PlanPrice.objects.filter(pk=plan.pk, stripe_plan_id="").update(stripe_plan_id=made.id)
    plan.refresh_from_db()
    return plan.stripe_plan_id


# --- Invoices ------------------------------------------------------------------------------------


def invoice_refresh(
    *, stripe_invoice_id: str, period: tuple[date, date] | None = None, issued_at: datetime | None = None
) -> Invoice | None:
    """The Stripe invoice mirrored here as it is now; None when its customer is no merchant
    of ours. An invoice that becomes paid resumes its merchant's billing if nothing else
    is overdue."""
    with stripe_errors():
        found = stripe_client().v1.invoices.retrieve(stripe_invoice_id)
    return invoice_mirror(found, period=period, issued_at=issued_at)


def invoice_mirror(
    found: Any, *, period: tuple[date, date] | None = None, issued_at: datetime | None = None
) -> Invoice | None:
    data = as_dict(found)
    profile = (
        BillingProfile.objects.select_related("merchant")
        .filter(stripe_customer_id=object_id(data.get("customer")))
        .first()
    )
    if profile is None:
        return None
    currency = str(data.get("currency") or profile.plan.currency).upper()
    status = str(data.get("status") or InvoiceStatus.DRAFT)
    if status not in _RANK:
        status = InvoiceStatus.OPEN
    paid_at = _from_timestamp(as_dict(data.get("status_transitions")).get("paid_at"))
    seen = {
        "status": status,
        "currency": currency,
        "amount_due": from_minor_units(data.get("amount_due"), currency),
        "amount_paid": from_minor_units(data.get("amount_paid"), currency),
        "paid_at": paid_at or (timezone.now() if status == InvoiceStatus.PAID else None),
        "updated_at": timezone.now(),
    }
    if period:
        seen.update(period_start=period[0], period_end=period[1])
    first_seen = {
        "merchant": profile.merchant,
        "issued_at": issued_at or _from_timestamp(data.get("created")) or timezone.now(),
        "period_start": _local_date(data.get("period_start")),
        "period_end": _local_date(data.get("period_end")),
    }
    with transaction.atomic():
        invoice = _invoice_row(str(data["id"]), {**first_seen, **seen})
        if _RANK[status] < _RANK[invoice.status]:
            return invoice  # older news than what is recorded
        was = invoice.status
        Invoice.objects.filter(pk=invoice.pk).update(**seen)
        invoice.refresh_from_db()
        if was in UNPAID and invoice.status not in UNPAID:
            _resume_if_settled(profile.merchant)
    return invoice


def invoice_pay(*, invoice: Invoice, idempotency_key: str | None = None) -> Invoice:
    """Ask Stripe to charge an open invoice to the merchant's card now. A declined card is
    recorded (`payment_failed_at`), not raised: dunning decides what it leads to."""
    if invoice.status not in (InvoiceStatus.DRAFT, *UNPAID):
        return invoice
    client = stripe_client()
    with stripe_errors():
        try:
            client.v1.invoices.pay(invoice.stripe_id, None, request_options(idempotency_key=idempotency_key))
        except stripe.CardError as declined:
            log.info("invoice %s: payment declined: %s", invoice.ref, declined.user_message)
        except stripe.InvalidRequestError as refused:
            log.info("invoice %s: not paid now: %s", invoice.ref, refused.user_message)
    current = invoice_refresh(stripe_invoice_id=invoice.stripe_id) or invoice
    if current.status != InvoiceStatus.PAID:
        Invoice.objects.filter(pk=current.pk).update(payment_failed_at=timezone.now())
        current.refresh_from_db()
    return current


# --- Dunning ---------------------------------------------------------------------------------------


def dunning_due(*, now: datetime | None = None) -> int:
    """Pause the billing of merchants with an invoice open past the grace period, after a
    last look at Stripe (it may have been paid). How many were paused."""
    if not stripe_enabled():
        return 0
    overdue = Invoice.objects.filter(
        status__in=UNPAID,
        issued_at__lte=(now or timezone.now()) - _grace(),
        merchant__billing_profile__status=BillingStatus.ACTIVE,
    ).select_related("merchant")
    paused = 0
    for invoice in overdue.order_by("issued_at")[:DUNNING_BATCH]:
        current = invoice_refresh(stripe_invoice_id=invoice.stripe_id) or invoice
        if current.status in UNPAID:
            paused += billing_pause(merchant=invoice.merchant, invoice=current)
    return paused


def billing_pause(*, merchant: Merchant, invoice: Invoice) -> bool:
    """Pause new vouchers of `merchant` for the unpaid `invoice`; False if already paused."""
    now = timezone.now()
    with transaction.atomic():
        paused = BillingProfile.objects.filter(merchant=merchant, status=BillingStatus.ACTIVE).update(
            status=BillingStatus.PAUSED_BILLING, paused_at=now
        )
        if paused:
            _announce(merchant, "merchant.billing_paused", NOTICE_PAUSED, invoice=invoice, at=now)
    return bool(paused)


def billing_resume(*, merchant: Merchant) -> bool:
    """Lift the pause; False if billing was not paused."""
    now = timezone.now()
    with transaction.atomic():
        resumed = BillingProfile.objects.filter(
            merchant=merchant, status=BillingStatus.PAUSED_BILLING
        ).update(status=BillingStatus.ACTIVE, resumed_at=now)
        if resumed:
            _announce(merchant, "merchant.billing_resumed", NOTICE_RESUMED, invoice=None, at=now)
    return bool(resumed)


def _resume_if_settled(merchant: Merchant) -> None:
    overdue = Invoice.objects.filter(
        merchant=merchant, status__in=UNPAID, issued_at__lte=timezone.now() - _grace()
    )
    if not overdue.exists():
        billing_resume(merchant=merchant)


def _announce(merchant: Merchant, event: str, notice: str, *, invoice: Invoice | None, at: datetime) -> None:
    data: dict[str, object] = {"merchant": merchant.ref, "at": at}
    if invoice is not None:
        data["invoice"] = {
            "id": invoice.ref,
            "amount_due": str(quantize(invoice.amount_due, invoice.currency)),
            "currency": invoice.currency,
            "issued_at": invoice.issued_at,
        }
    audit_record(
        merchant=merchant, actor=None, action=f"billing.{notice}", target=invoice.ref if invoice else ""
    )
    webhook_emit(merchant=merchant, type=event, data=data)
    # The notice is due from this transaction: its task sends it, or beat's sweep does
    # (`billing_notices_due`) when the broker was down.
    BillingProfile.objects.filter(merchant=merchant).update(notice_due=notice, notice_invoice=invoice)
    notice_task.delay_on_commit(merchant.pk, notice, invoice.pk if invoice else None)


def billing_notices_due(*, grace: timedelta = NOTICE_GRACE, now: datetime | None = None) -> int:
    """Send the notices still due `grace` after their change (beat): their task was never
    queued. The number of emails sent."""
    cutoff = (now or timezone.now()) - grace
    due = BillingProfile.objects.filter(
        Q(notice_due=NOTICE_PAUSED, paused_at__lte=cutoff)
        | Q(notice_due=NOTICE_RESUMED, resumed_at__lte=cutoff)
    ).values_list("merchant_id", "notice_due", "notice_invoice_id")
    return sum(
        billing_notice_send(merchant_id=merchant_id, notice=notice, invoice_id=invoice_id)
        for merchant_id, notice, invoice_id in due
    )


def billing_notice_send(*, merchant_id: int, notice: str, invoice_id: int | None = None) -> int:
    """Email the merchant's owners that billing was paused or resumed, if that notice is
    still due; how many were sent. Under the profile's lock, so of its task and the sweep
    only one sends it; a notice a newer change replaced is not sent."""
    with transaction.atomic():
        due = BillingProfile.objects.select_for_update().filter(merchant_id=merchant_id, notice_due=notice)
        if due.values_list("pk", flat=True).first() is None:
            return 0
        sent = _notice_mail(Merchant.objects.get(pk=merchant_id), notice, invoice_id)
        BillingProfile.objects.filter(merchant_id=merchant_id).update(notice_due="", notice_invoice=None)
    return sent


def _notice_mail(merchant: Merchant, notice: str, invoice_id: int | None) -> int:
    invoice = Invoice.objects.filter(pk=invoice_id).first() if invoice_id else None
    if notice == NOTICE_PAUSED:
        subject = f"Perkline: new vouchers of {merchant.name} are paused"
        owed = f" ({quantize(invoice.amount_due, invoice.currency)} {invoice.currency})" if invoice else ""
        body = (
            f"An invoice of {merchant.name}{owed} is still unpaid {settings.BILLING_GRACE_DAYS} days after "
            "it was issued, so no new vouchers can be issued until it is paid. Vouchers your "
            "members already hold can still be redeemed.\n\nUpdate your card on the billing page "
            "of the portal to pay it; everything resumes as soon as it is paid."
        )
    else:
        subject = f"Perkline: {merchant.name} is back in good standing"
        body = "Thank you: your invoice is paid, and new vouchers can be issued again."
    recipients = _owner_emails(merchant)
    if recipients:
        send_mail(subject, body, None, recipients)
    return len(recipients)


# --- Helpers ---------------------------------------------------------------------------------------


def _invoice_row(stripe_id: str, first_seen: dict[str, Any]) -> Invoice:
    """The invoice's row, locked, made first (from `first_seen`) if this is its first sight."""
    Invoice.objects.get_or_create(stripe_id=stripe_id, defaults=first_seen)
    return Invoice.objects.select_for_update(of=("self",)).get(stripe_id=stripe_id)


def _profile(merchant: Merchant) -> BillingProfile:
    """The merchant's profile, for a step that needs Stripe: on, and the customer made."""
    profile = BillingProfile.objects.select_related("merchant", "plan").filter(merchant=merchant).first()
    if profile is None:
        raise BillingNotSetUp()
    if not stripe_enabled():
        raise BillingNotConfigured()
    return billing_customer(profile)


def _owner_emails(merchant: Merchant) -> list[str]:
    owners = Staff.objects.filter(merchant=merchant, role=Role.OWNER, user__is_active=True).exclude(
        user__email=""
    )
    return sorted(set(owners.values_list("user__email", flat=True)))


def _account(stripe_account: str) -> str:
    account = (stripe_account or "").strip()
    if account and not account.startswith("acct_"):
        raise Invalid("A connected account id starts with acct_.", param="stripe_account")
    return account


def _grace() -> timedelta:
    return timedelta(days=settings.BILLING_GRACE_DAYS)


def _from_timestamp(value: object) -> datetime | None:
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(int(str(value)), tz=UTC)


def _local_date(value: object) -> date | None:
    moment = _from_timestamp(value)
    return timezone.localtime(moment).date() if moment else None


def _text(value: str, param: str, max_length: int = 120) -> str:
    value = (value or "").strip()
    if not value or len(value) > max_length:
        raise Invalid(f"{param} is text of 1–{max_length} characters.", param=param)
    return value
