"""Deposits a merchant asks of a member: waived by a voucher, or held on the member's card.

Waived: the member holds a valid `deposit_waiver` voucher of this merchant whose cap covers
the amount in the same currency; its use is redeemed by the redemption service in the
transaction that records the deposit, so twenty calls at once waive with one use.

Held: a manual-capture PaymentIntent, a direct charge on the merchant's connected Stripe
account, on a card the member saved there. With no card saved yet, a SetupIntent's
client_secret goes to the browser (the partner's checkout or the member's app), which
saves the card with Stripe.js; the next look at the deposit (a read while it is pending, or
any Stripe event about it) finds the card saved, attaches it to the member's customer
(which localstripe does not do on confirm, and Stripe already has) and holds the deposit
off-session. A card that needs 3-D Secure leaves the deposit `requires_action`, with the
PaymentIntent's client_secret for the browser's `confirmCardPayment`.

Stripe is asked first and the row written after, so an unreachable Stripe leaves nothing
of the deposit behind. A deposit only moves forward (`_REACHED_FROM`): every move is a
conditional UPDATE on its row, and each one a partner hears of emits its webhook in the
same transaction. Whatever the order of Stripe's events, the intent is fetched again and
its status decides, so Stripe's names (`amount_capturable_updated`) and localstripe's lead
to the same deposit.
"""

import copy
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import stripe
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.core.errors import Conflict, DomainError, Invalid, NotFound, Refused
from loyalty.core.refs import new_ref
from loyalty.members.models import Member
from perks.billing.errors import DepositNotHeld, PaymentFailed, PaymentProviderUnavailable
from perks.billing.models import (
    DEPOSIT_REF_PREFIX,
    BillingProfile,
    CapturePolicy,
    Deposit,
    DepositStatus,
    MemberStripeCustomer,
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
from perks.catalog.models import PerkType
from perks.catalog.money import amount_parse, currency_code, quantize
from perks.catalog.params import DepositWaiverParams, params_parse
from perks.merchants.models import ApiKey, Merchant
from perks.merchants.permissions import Permission, Scope
from perks.merchants.selectors import location_by_code
from perks.merchants.services import Actor, actor_require, webhook_emit
from perks.vouchers.codes import code_format
from perks.vouchers.models import Voucher, VoucherStatus
from perks.vouchers.services import actor_label, voucher_redeem

log = logging.getLogger(__name__)

# Card authorisations lapse after seven days; the capture policy is applied a day before.
AUTHORISATION_LAPSES_AFTER = timedelta(days=7)
POLICY_APPLIED_AFTER = timedelta(days=6)
# How long the member has to save a card or authenticate before the deposit expires.
PENDING_FOR = timedelta(days=1)
DUE_BATCH = 200

S = DepositStatus
PENDING = frozenset({S.REQUIRES_PAYMENT_METHOD, S.REQUIRES_ACTION})
OPEN = PENDING | {S.HELD}
_REACHED_FROM: dict[str, frozenset[str]] = {
    S.REQUIRES_ACTION: frozenset({S.REQUIRES_PAYMENT_METHOD}),
    S.HELD: PENDING,
    S.RELEASED: frozenset({S.HELD}),
    S.CAPTURED: OPEN,
    S.EXPIRED: OPEN,
}
_WEBHOOK_OF: dict[str, str] = {
    S.HELD: "deposit.held",
    S.RELEASED: "deposit.released",
    S.CAPTURED: "deposit.captured",
    S.EXPIRED: "deposit.expired",
}
NO_PROVIDER = (
    "Card deposits are not available: no payment provider is configured, and the member "
    "holds no deposit waiver of yours that covers this amount."
)
NO_ACCOUNT = (
    "This merchant cannot hold card deposits yet: it has no connected Stripe account, and the "
    "member holds no deposit waiver of yours that covers this amount."
)


def deposit_create(
    *,
    merchant: Merchant,
    actor: Actor,
    member: Member,
    amount: Decimal | str,
    currency: str,
    location_code: str | None = None,
    capture_policy: str = CapturePolicy.RELEASE,
) -> Deposit:
    """A deposit of `amount`: waived by the member's covering waiver, else held on their
    saved card (`held`, or `requires_action`), else waiting for a card
    (`requires_payment_method`, with the SetupIntent's `client_secret`)."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.DEPOSITS_MANAGE)
    currency = currency_code(currency, param="currency")
    amount = amount_parse(amount, currency=currency, param="amount", positive=True)
    if capture_policy not in CapturePolicy.values:
        raise Invalid(f"capture_policy is one of {', '.join(CapturePolicy.values)}.", param="capture_policy")
    location = location_by_code(merchant=merchant, code=location_code)
    deposit = Deposit(
        ref=new_ref(DEPOSIT_REF_PREFIX),
        merchant=merchant,
        member=member,
        location=location,
        amount=amount,
        currency=currency,
        capture_policy=capture_policy,
        actor=actor_label(actor),
    )
    if _waived(deposit, actor):
        return deposit
    if not stripe_enabled():
        raise PaymentFailed(NO_PROVIDER)
    account = (
        BillingProfile.objects.filter(merchant=merchant).values_list("stripe_account", flat=True).first()
    )
    if not account:
        raise PaymentFailed(NO_ACCOUNT)
    deposit.stripe_account = account
    _held_or_asked(deposit)
    return deposit


def deposit_refresh(*, deposit: Deposit, stale_ok: bool = False) -> Deposit:
    """The deposit as Stripe has it now: a saved card held, an authentication done, a hold
    that lapsed. Called when a pending deposit is read and on every Stripe event about one.
    With `stale_ok`, an unreachable Stripe answers the deposit as last known instead."""
    if deposit.status not in OPEN or not stripe_enabled():
        return deposit
    try:
        with transaction.atomic():
            current = _locked(deposit.pk)
            if current.status in OPEN:
                with stripe_errors():
                    _sync(current, stripe_client(account=current.stripe_account))
    except PaymentProviderUnavailable:
        if not stale_ok:
            raise
    return Deposit.objects.select_related("merchant", "member", "waived_by").get(pk=deposit.pk)


def deposits_refresh(*, deposits: Iterable[Deposit]) -> list[Deposit]:
    """`deposits` as they are now: each pending one re-checked with Stripe. A list is never
    refused for Stripe's sake: once Stripe cannot be reached, the rest are answered as last
    known without asking again, so a Stripe that times out costs the read one wait."""
    refreshed = []
    reachable = True
    for deposit in deposits:
        if reachable:
            try:
                deposit = deposit_refresh(deposit=deposit)
            except PaymentProviderUnavailable:
                reachable = False
        refreshed.append(deposit)
    return refreshed


def deposit_release(*, deposit: Deposit, actor: Actor) -> Deposit:
    """Let the hold go: the PaymentIntent is cancelled and the card no longer charged."""
    actor_require(actor=actor, merchant=deposit.merchant, permission=Permission.DEPOSITS_MANAGE)
    return _release(deposit)


def deposit_capture(*, deposit: Deposit, actor: Actor, amount: Decimal | str | None = None) -> Deposit:
    """Take `amount` (at most what is held; all of it when not given) of the hold; the rest
    goes back to the card."""
    actor_require(actor=actor, merchant=deposit.merchant, permission=Permission.DEPOSITS_MANAGE)
    if amount is not None:
        amount = amount_parse(amount, currency=deposit.currency, param="amount", positive=True)
    return _capture(deposit, amount)


def deposits_due(*, now: datetime | None = None) -> int:
    """Beat's sweep: holds six days old get their capture policy before the authorisation
    lapses; deposits never completed, or whose hold lapsed, become `expired`. How many moved."""
    if not stripe_enabled():
        return 0
    now = now or timezone.now()
    moved = 0
    held = Deposit.objects.filter(status=S.HELD, held_at__lte=now - POLICY_APPLIED_AFTER)
    for deposit in held.select_related("merchant", "member").order_by("held_at")[:DUE_BATCH]:
        moved += _due(deposit, _policy_apply)
    lapsed = Deposit.objects.filter(status__in=PENDING, expires_at__lte=now)
    for deposit in lapsed.select_related("merchant", "member").order_by("expires_at")[:DUE_BATCH]:
        moved += _due(deposit, _expire)
    return moved


def _due(deposit: Deposit, act: Callable[[Deposit], object]) -> int:
    """One deposit of the sweep, after a last look at Stripe; a refusal is logged and the
    sweep goes on, an unreachable Stripe stops it (the task retries)."""
    try:
        current = deposit_refresh(deposit=deposit)
        if current.status == deposit.status:
            act(current)
    except PaymentProviderUnavailable:
        raise
    except DomainError as refused:
        log.warning("deposit %s: %s (%s)", deposit.ref, refused.message, refused.code)
        return 0
    return 1


def _policy_apply(deposit: Deposit) -> Deposit:
    return _capture(deposit, None) if deposit.capture_policy == CapturePolicy.CAPTURE else _release(deposit)


def deposit_event_data(deposit: Deposit) -> dict[str, object]:
    """What a partner's webhook says about a deposit: the API's own fields of it."""
    return {
        "id": deposit.ref,
        "status": deposit.status,
        "amount": str(quantize(deposit.amount, deposit.currency)),
        "currency": deposit.currency,
        "member": deposit.member.ref,
        "capture_policy": deposit.capture_policy,
        "waived_by": code_format(deposit.waived_by.code) if deposit.waived_by else None,
        "captured_amount": (
            None
            if deposit.captured_amount is None
            else str(quantize(deposit.captured_amount, deposit.currency))
        ),
        "held_at": deposit.held_at,
        "expires_at": deposit.expires_at,
    }


# --- Waived ------------------------------------------------------------------------------


def _waived(deposit: Deposit, actor: Actor) -> bool:
    """Redeem a use of the member's covering waiver and record the deposit waived by it, in
    one transaction; False (nothing written) when no waiver of theirs can be used now."""
    now = timezone.now()
    with transaction.atomic():
        for voucher in _waivers(deposit, now):
            try:
                redemption = voucher_redeem(
                    merchant=deposit.merchant,
                    actor=_deposit_authority(actor),
                    code=voucher.code,
                    location_code=deposit.location.code if deposit.location else None,
                    amount=deposit.amount,
                    currency=deposit.currency,
                    metadata={"deposit": deposit.ref},
                )
            except (Conflict, Refused, NotFound):
                continue  # used up, reserved or no longer valid since it was read: try the next
            deposit.status, deposit.waived_by, deposit.redemption = S.WAIVED, voucher, redemption
            deposit.save(force_insert=True)
            return True
    return False


def _waivers(deposit: Deposit, now: datetime) -> list[Voucher]:
    """The member's usable waivers of this merchant that cover the deposit, smallest cap
    first (the larger ones stay for larger deposits), then the soonest to expire."""
    vouchers = Voucher.objects.filter(
        merchant=deposit.merchant,
        member=deposit.member,
        perk__type=PerkType.DEPOSIT_WAIVER,
        status=VoucherStatus.ISSUED,
        valid_from__lte=now,
        expires_at__gt=now,
    ).select_related("perk")
    covering = []
    for voucher in vouchers:
        params = params_parse(voucher.perk.type, voucher.perk.params)
        assert isinstance(params, DepositWaiverParams)
        if params.currency == deposit.currency and params.max_amount >= deposit.amount:
            covering.append((params.max_amount, voucher.expires_at, voucher.pk, voucher))
    return [voucher for *_, voucher in sorted(covering)]


def _deposit_authority(actor: Actor) -> Actor:
    """A waiver is redeemed under the deposit's authority: a key allowed to take deposits
    may use the waiver that stands in for one, so it is lent the redemption scope for that
    one call (its label, and so the redemption's actor, stay its own)."""
    if isinstance(actor, ApiKey) and Scope.REDEMPTIONS_WRITE not in actor.scopes:
        lent = copy.copy(actor)
        lent.scopes = [*actor.scopes, Scope.REDEMPTIONS_WRITE]
        return lent
    return actor


# --- Held ----------------------------------------------------------------------------------


def _held_or_asked(deposit: Deposit) -> None:
    """Ask Stripe, then write: held on the member's saved card, or a SetupIntent to save one."""
    now = timezone.now()
    with stripe_errors():
        client = stripe_client(account=deposit.stripe_account)
        deposit.stripe_customer_id = _member_customer(client, deposit.member, deposit.stripe_account)
        card = _saved_card(client, deposit.stripe_customer_id)
        if card:
            intent = _intent_hold(client, deposit, card)
            deposit.payment_intent_id = intent.id
            status, fields = _intent_outcome(deposit, intent, now)
            if status is None or status == S.REQUIRES_PAYMENT_METHOD:
                raise PaymentFailed(_intent_error(intent))
        else:
            setup = _setup_intent(client, deposit)
            deposit.setup_intent_id = setup.id
            status, fields = S.REQUIRES_PAYMENT_METHOD, {"client_secret": setup.client_secret}
    deposit.status = status
    deposit.expires_at = now + PENDING_FOR
    for field, value in fields.items():
        setattr(deposit, field, value)
    try:
        with transaction.atomic():
            deposit.save(force_insert=True)
            _announce(deposit)
    except BaseException:
        _intent_cancel_quietly(deposit)
        raise


def _member_customer(client: stripe.StripeClient, member: Member, account: str) -> str:
    """The member's customer on `account`, made on first need. The idempotency key makes
    two makers at once get one customer from Stripe; the database keeps one row."""
    known = MemberStripeCustomer.objects.filter(member=member, stripe_account=account)
    customer_id = known.values_list("customer_id", flat=True).first()
    if customer_id:
        return customer_id
    customer = client.v1.customers.create(
        {"metadata": {"perkline_member": member.ref}},
        request_options(idempotency_key=f"member-customer:{member.ref}:{account}"),
    )
    try:
        with transaction.atomic():
            MemberStripeCustomer.objects.create(
                member=member, stripe_account=account, customer_id=customer.id
            )
    except IntegrityError:
        return known.values_list("customer_id", flat=True).get()
    return customer.id


def _saved_card(client: stripe.StripeClient, customer_id: str) -> str:
    cards = client.v1.payment_methods.list({"customer": customer_id, "type": "card"})
    return cards.data[0].id if cards.data else ""


def _setup_intent(client: stripe.StripeClient, deposit: Deposit, *, after: str = "") -> Any:
    return client.v1.setup_intents.create(
        {
            "customer": deposit.stripe_customer_id,
            "usage": "off_session",
            "metadata": {"deposit": deposit.ref},
        },
        request_options(idempotency_key=f"{deposit.ref}:setup:{after}"),
    )


def _intent_hold(client: stripe.StripeClient, deposit: Deposit, card: str) -> Any:
    """Authorise the amount on `card` off-session, to capture later. A card that needs the
    member present is not an error: the intent comes back for 3-D Secure in the browser."""
    try:
        return client.v1.payment_intents.create(
            {
                "amount": minor_units(deposit.amount, deposit.currency),
                "currency": stripe_currency(deposit.currency),
                "customer": deposit.stripe_customer_id,
                "payment_method": card,
                "capture_method": "manual",
                "confirm": True,
                "off_session": True,
                "metadata": {"deposit": deposit.ref, "merchant": deposit.merchant.ref},
            },
            request_options(idempotency_key=f"{deposit.ref}:hold:{card}"),
        )
    except stripe.CardError as error:
        intent = getattr(error.error, "payment_intent", None)
        if error.code == "authentication_required" and intent is not None:
            return intent  # Stripe: the member must authenticate on-session
        raise


def _intent_outcome(deposit: Deposit, intent: Any, now: datetime) -> tuple[str | None, dict[str, Any]]:
    """The status an intent's state puts the deposit in, with the fields that go with it;
    None when it says nothing new."""
    status = intent.status
    error = as_dict(getattr(intent, "last_payment_error", None))
    if status == "requires_capture":
        held_at = deposit.held_at or now
        return S.HELD, {
            "held_at": held_at,
            "expires_at": held_at + AUTHORISATION_LAPSES_AFTER,
            "client_secret": "",  # nosec B105  # clears the client secret, sets none
        }
    if status == "requires_action" or (
        status == "requires_payment_method" and error.get("code") == "authentication_required"
    ):
        return S.REQUIRES_ACTION, {"client_secret": intent.client_secret}
    if status == "succeeded":
        return S.CAPTURED, {
            "captured_amount": _captured(deposit, intent),
            "ended_at": now,
            "client_secret": "",  # nosec B105  # clears the client secret, sets none
        }
    if status == "canceled":
        return S.EXPIRED, {"ended_at": now, "client_secret": ""}  # nosec B105  # clears the client secret, sets none
    if status == "requires_payment_method":
        return S.REQUIRES_PAYMENT_METHOD, {}
    return None, {}


def _intent_error(intent: Any) -> str:
    message = as_dict(getattr(intent, "last_payment_error", None)).get("message")
    return str(message or "The card was declined.")


def _captured(deposit: Deposit, intent: Any) -> Decimal:
    """What Stripe took: `amount_received`, or what the charge kept where that is missing."""
    data = as_dict(intent)
    received = data.get("amount_received")
    if received is None:
        charge = as_dict(data.get("latest_charge"))
        if charge:
            received = charge.get("amount_captured") or charge.get("amount", 0) - charge.get(
                "amount_refunded", 0
            )
    if received is None:
        return deposit.amount
    return from_minor_units(received, deposit.currency)


def _sync(deposit: Deposit, client: stripe.StripeClient) -> None:
    """Bring the locked, open `deposit` up to what Stripe says."""
    if deposit.payment_intent_id:
        _apply(deposit, client.v1.payment_intents.retrieve(deposit.payment_intent_id))
        return
    setup = client.v1.setup_intents.retrieve(deposit.setup_intent_id)
    card = object_id(setup.payment_method)
    if setup.status == "succeeded" and card:
        _card_attach(client, card, deposit.stripe_customer_id)
        try:
            with stripe_errors():
                intent = _intent_hold(client, deposit, card)
        except PaymentFailed as declined:
            _setup_again(client, deposit, card, declined)
            return
        Deposit.objects.filter(pk=deposit.pk).update(payment_intent_id=intent.id)
        deposit.payment_intent_id = intent.id
        _apply(deposit, intent)
    elif setup.status == "canceled":
        _move(deposit, S.EXPIRED, ended_at=timezone.now(), client_secret="")  # nosec B106  # clears the client secret, sets none


def _card_attach(client: stripe.StripeClient, card: str, customer_id: str) -> None:
    """Stripe attaches a card saved by a SetupIntent to its customer; localstripe leaves it
    loose, and a loose card cannot be charged off-session."""
    if object_id(client.v1.payment_methods.retrieve(card).customer) != customer_id:
        client.v1.payment_methods.attach(card, {"customer": customer_id})


def _setup_again(client: stripe.StripeClient, deposit: Deposit, card: str, declined: PaymentFailed) -> None:
    """The card saved was declined for the hold: it is taken off the member's customer (so
    it is not tried again) and a new SetupIntent asks for another."""
    log.info("deposit %s: card declined for the hold (%s); asking for another", deposit.ref, declined.message)
    client.v1.payment_methods.detach(card)
    setup = _setup_intent(client, deposit, after=deposit.setup_intent_id)
    Deposit.objects.filter(pk=deposit.pk, status=S.REQUIRES_PAYMENT_METHOD).update(
        setup_intent_id=setup.id, client_secret=setup.client_secret
    )


def _apply(deposit: Deposit, intent: Any) -> None:
    status, fields = _intent_outcome(deposit, intent, timezone.now())
    if status is None or status == deposit.status:
        return
    if status == S.REQUIRES_PAYMENT_METHOD:
        return  # an authentication failed or a card went: the member may still complete it
    _move(deposit, status, **fields)


def _move(deposit: Deposit, to: str, **fields: Any) -> bool:
    """Move `deposit` to `to` if it may go there from where it is, and announce it."""
    now = timezone.now()
    moved = Deposit.objects.filter(pk=deposit.pk, status__in=_REACHED_FROM[to]).update(
        status=to, status_changed_at=now, **fields
    )
    if moved:
        deposit.refresh_from_db()
        _announce(deposit)
    return bool(moved)


def _announce(deposit: Deposit) -> None:
    event = _WEBHOOK_OF.get(deposit.status)
    if event:
        webhook_emit(merchant=deposit.merchant, type=event, data={"deposit": deposit_event_data(deposit)})


def _release(deposit: Deposit) -> Deposit:
    def cancel(client: stripe.StripeClient, current: Deposit) -> None:
        client.v1.payment_intents.cancel(
            current.payment_intent_id, None, request_options(idempotency_key=f"{current.ref}:release")
        )
        _move(current, S.RELEASED, ended_at=timezone.now())

    return _on_hold(deposit, cancel)


def _capture(deposit: Deposit, amount: Decimal | str | None) -> Deposit:
    def capture(client: stripe.StripeClient, current: Deposit) -> None:
        taken = current.amount if amount is None else Decimal(amount)
        if taken > current.amount:
            raise Invalid(
                f"At most the amount held, {quantize(current.amount, current.currency)} {current.currency}, "
                "can be captured.",
                param="amount",
            )
        minor = minor_units(taken, current.currency)
        client.v1.payment_intents.capture(
            current.payment_intent_id,
            {"amount_to_capture": minor},
            request_options(idempotency_key=f"{current.ref}:capture:{minor}"),
        )
        _move(current, S.CAPTURED, captured_amount=taken, ended_at=timezone.now())

    return _on_hold(deposit, capture)


def _on_hold(deposit: Deposit, act: Callable[[stripe.StripeClient, Deposit], None]) -> Deposit:
    """Do `act` to a held deposit, on its locked row; Stripe refusing because the intent has
    moved on (cancelled, captured, lapsed) records where it went and answers not held."""
    moved_on = False
    with transaction.atomic():
        current = _locked(deposit.pk)
        if current.status != S.HELD:
            raise DepositNotHeld()
        client = stripe_client(account=current.stripe_account)
        with stripe_errors():
            try:
                act(client, current)
            except stripe.InvalidRequestError:
                _apply(current, client.v1.payment_intents.retrieve(current.payment_intent_id))
                if current.status == S.HELD:
                    raise
                moved_on = True
    if moved_on:
        raise DepositNotHeld()
    return current


def _expire(deposit: Deposit) -> None:
    """A deposit never completed: its intent is cancelled (best effort: it holds nothing)."""
    with transaction.atomic():
        current = _locked(deposit.pk)
        if current.status not in PENDING:
            return
        client = stripe_client(account=current.stripe_account)
        with stripe_errors():
            try:
                if current.payment_intent_id:
                    client.v1.payment_intents.cancel(current.payment_intent_id)
                elif current.setup_intent_id:
                    client.v1.setup_intents.cancel(current.setup_intent_id)
            except stripe.InvalidRequestError as error:
                log.info("deposit %s: its intent could not be cancelled: %s", current.ref, error)
        _move(current, S.EXPIRED, ended_at=timezone.now(), client_secret="")  # nosec B106  # clears the client secret, sets none


def _intent_cancel_quietly(deposit: Deposit) -> None:
    """After a deposit failed to be written, let go of a hold Stripe made for it."""
    if not deposit.payment_intent_id:
        return
    try:
        stripe_client(account=deposit.stripe_account).v1.payment_intents.cancel(deposit.payment_intent_id)
    except stripe.StripeError:
        log.exception("deposit %s: could not cancel intent %s", deposit.ref, deposit.payment_intent_id)


def _locked(pk: int) -> Deposit:
    return Deposit.objects.select_for_update(of=("self",)).select_related("merchant", "member").get(pk=pk)
