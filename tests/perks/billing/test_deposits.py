"""Every path of a deposit at the service level, against a real localstripe: waived by a
voucher, held on a saved card, a card saved in the browser first, 3-D Secure, released,
captured in part, the capture policy at day six, never completed, and Stripe down."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.core.errors import Invalid
from perks.billing.errors import DepositNotHeld, PaymentFailed, PaymentProviderUnavailable
from perks.billing.models import CapturePolicy, Deposit, DepositStatus, MemberStripeCustomer
from perks.billing.services import (
    deposit_capture,
    deposit_create,
    deposit_refresh,
    deposit_release,
    deposits_due,
)
from perks.billing.services.deposits import POLICY_APPLIED_AFTER
from perks.merchants.models import WebhookEvent
from perks.vouchers.models import Redemption, Voucher, VoucherStatus
from tests.perks.billing.conftest import customer_of, webhooks
from tests.support.stripe import free_port

pytestmark = pytest.mark.django_db

S = DepositStatus


def _deposit(merchant, key, member, amount="300.00", currency="CNY", **kwargs):
    return deposit_create(
        merchant=merchant, actor=key, member=member, amount=amount, currency=currency, **kwargs
    )


def _held(merchant, key, member, stripe, **kwargs):
    """A deposit held on a card the member saved in the browser for an earlier one."""
    first = _deposit(merchant, key, member, amount="1.00")
    stripe.card_setup_confirm(first.client_secret)
    deposit_refresh(deposit=first)
    deposit = _deposit(merchant, key, member, **kwargs)
    assert deposit.status == S.HELD
    return deposit


def _intent(stripe, deposit):
    return stripe.get(f"/v1/payment_intents/{deposit.payment_intent_id}")


# --- Waived ----------------------------------------------------------------------------------


def test_a_covering_waiver_waives_the_deposit_with_one_use_of_it(merchant, key, member, waiver):
    deposit = _deposit(merchant, key, member, amount="300.00", location_code=None)

    assert (deposit.status, deposit.waived_by, deposit.amount, deposit.currency) == (
        S.WAIVED,
        waiver,
        Decimal("300.00"),
        "CNY",
    )
    redemption = Redemption.objects.get(voucher=waiver)
    assert deposit.redemption == redemption
    assert redemption.metadata == {"deposit": deposit.ref}
    assert redemption.benefit["waived_amount"] == "300.00"
    assert Voucher.objects.get(pk=waiver.pk).status == VoucherStatus.REDEEMED
    assert not deposit.payment_intent_id
    assert not deposit.client_secret


def test_with_the_waiver_used_the_next_deposit_is_not_waived(merchant, key, member, waiver):
    _deposit(merchant, key, member)

    with pytest.raises(PaymentFailed) as refused:
        _deposit(merchant, key, member)

    assert refused.value.code == "payment_failed"
    assert Deposit.objects.count() == 1
    assert Voucher.objects.get(pk=waiver.pk).uses_count == 1


def test_a_waiver_below_the_amount_or_in_another_currency_does_not_waive(merchant, key, member, waiver):
    for amount, currency in (("500.01", "CNY"), ("100.00", "USD")):
        with pytest.raises(PaymentFailed):
            _deposit(merchant, key, member, amount=amount, currency=currency)

    assert not Deposit.objects.exists()
    assert Voucher.objects.get(pk=waiver.pk).uses_count == 0


def test_with_stripe_off_and_no_waiver_the_deposit_is_refused_with_a_clear_reason(merchant, key, member):
    with pytest.raises(PaymentFailed) as refused:
        _deposit(merchant, key, member)

    assert "no payment provider is configured" in refused.value.message
    assert not Deposit.objects.exists()


def test_bad_input_is_refused_before_anything(merchant, key, member):
    for kwargs, param in (
        ({"amount": "0"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"currency": "XXX"}, "currency"),
        ({"capture_policy": "keep"}, "capture_policy"),
        ({"location_code": "NOWHERE"}, "location"),
    ):
        with pytest.raises(Invalid) as refused:
            _deposit(merchant, key, member, **kwargs)
        assert (refused.value.code, refused.value.param) == ("validation_error", param)


# --- Held --------------------------------------------------------------------------------------


def test_without_a_saved_card_the_member_is_asked_for_one(stripe_on, profile, merchant, key, member):
    deposit = _deposit(merchant, key, member)

    assert deposit.status == S.REQUIRES_PAYMENT_METHOD
    assert deposit.setup_intent_id
    assert deposit.client_secret.startswith(deposit.setup_intent_id)
    assert deposit.expires_at > timezone.now()
    setup = stripe_on.get(f"/v1/setup_intents/{deposit.setup_intent_id}")
    assert (setup["customer"], setup["status"]) == (customer_of(member), "requires_payment_method")
    assert webhooks(merchant, "deposit.") == []


def test_the_card_saved_in_the_browser_completes_the_hold(stripe_on, profile, merchant, key, member):
    deposit = _deposit(merchant, key, member, amount="300.00")
    assert deposit_refresh(deposit=deposit).status == S.REQUIRES_PAYMENT_METHOD  # nothing saved yet

    stripe_on.card_setup_confirm(deposit.client_secret)
    deposit = deposit_refresh(deposit=deposit)

    assert deposit.status == S.HELD
    assert deposit.client_secret == ""
    assert deposit.held_at is not None
    assert deposit.expires_at == deposit.held_at + timedelta(days=7)
    intent = _intent(stripe_on, deposit)
    assert (intent["status"], intent["amount"], intent["currency"], intent["capture_method"]) == (
        "requires_capture",
        30000,
        "cny",
        "manual",
    )
    card = stripe_on.get(f"/v1/payment_methods/{intent['payment_method']}")
    assert card["customer"] == customer_of(member)  # attached by the server, as localstripe does not
    assert webhooks(merchant, "deposit.") == ["deposit.held"]
    assert deposit_refresh(deposit=deposit).status == S.HELD
    assert webhooks(merchant, "deposit.") == ["deposit.held"]


def test_a_saved_card_holds_the_next_deposit_at_once_off_session(stripe_on, profile, merchant, key, member):
    deposit = _held(merchant, key, member, stripe_on, amount="250.00")

    assert _intent(stripe_on, deposit)["status"] == "requires_capture"
    assert MemberStripeCustomer.objects.filter(member=member).count() == 1
    event = WebhookEvent.objects.filter(type="deposit.held").latest("id")
    assert event.data["deposit"]["id"] == deposit.ref
    assert event.data["deposit"]["amount"] == "250.00"


def test_a_card_asking_for_3d_secure_waits_for_the_member(stripe_on, profile, merchant, key, member):
    _deposit(merchant, key, member, amount="1.00")  # the member's customer is made
    stripe_on.card_attach(customer_of(member), "4000002500003155")

    deposit = _deposit(merchant, key, member)

    assert deposit.status == S.REQUIRES_ACTION
    assert deposit.client_secret.startswith(deposit.payment_intent_id)
    stripe_on.card_authenticate(deposit.client_secret)
    deposit = deposit_refresh(deposit=deposit)
    assert deposit.status == S.HELD
    assert deposit.client_secret == ""
    assert webhooks(merchant, "deposit.") == ["deposit.held"]


def test_a_saved_card_declined_for_a_hold_is_payment_failed_and_nothing_is_kept(
    stripe_on, profile, merchant, key, member
):
    _deposit(merchant, key, member, amount="1.00")
    stripe_on.card_attach(customer_of(member), "4000000000000341")  # saves, then declines charges

    with pytest.raises(PaymentFailed) as refused:
        _deposit(merchant, key, member)

    assert refused.value.message == "Your card was declined."
    assert Deposit.objects.count() == 1


def test_a_card_saved_in_the_browser_but_declined_asks_for_another(stripe_on, profile, merchant, key, member):
    deposit = _deposit(merchant, key, member)
    first_secret = deposit.client_secret
    stripe_on.card_setup_confirm(first_secret, number="4000000000000341")

    deposit = deposit_refresh(deposit=deposit)

    assert deposit.status == S.REQUIRES_PAYMENT_METHOD
    assert deposit.client_secret
    assert deposit.client_secret != first_secret
    stripe_on.card_setup_confirm(deposit.client_secret)
    assert deposit_refresh(deposit=deposit).status == S.HELD


# --- Release and capture ---------------------------------------------------------------------------


def test_releasing_cancels_the_hold_once(stripe_on, profile, merchant, key, member):
    deposit = _held(merchant, key, member, stripe_on)

    released = deposit_release(deposit=deposit, actor=key)

    assert released.status == S.RELEASED
    assert released.ended_at is not None
    assert _intent(stripe_on, deposit)["status"] == "canceled"
    assert webhooks(merchant, "deposit.")[-1] == "deposit.released"
    with pytest.raises(DepositNotHeld):
        deposit_release(deposit=deposit, actor=key)
    assert webhooks(merchant, "deposit.released") == ["deposit.released"]


def test_capturing_part_of_the_hold_takes_that_part(stripe_on, profile, merchant, key, member):
    deposit = _held(merchant, key, member, stripe_on, amount="500.00")

    captured = deposit_capture(deposit=deposit, actor=key, amount="150.00")

    assert (captured.status, captured.captured_amount) == (S.CAPTURED, Decimal("150.00"))
    intent = _intent(stripe_on, deposit)
    assert intent["status"] == "succeeded"
    assert intent["latest_charge"]["amount"] - intent["latest_charge"]["amount_refunded"] == 15000
    event = WebhookEvent.objects.get(type="deposit.captured")
    assert event.data["deposit"]["captured_amount"] == "150.00"


def test_capturing_more_than_is_held_is_refused_on_amount_and_changes_nothing(
    stripe_on, profile, merchant, key, member
):
    deposit = _held(merchant, key, member, stripe_on, amount="500.00")

    with pytest.raises(Invalid) as refused:
        deposit_capture(deposit=deposit, actor=key, amount="500.01")

    assert (refused.value.code, refused.value.param) == ("validation_error", "amount")
    assert Deposit.objects.get(pk=deposit.pk).status == S.HELD
    assert _intent(stripe_on, deposit)["status"] == "requires_capture"
    assert deposit_capture(deposit=deposit, actor=key).captured_amount == Decimal("500.00")
    with pytest.raises(DepositNotHeld) as not_held:
        deposit_capture(deposit=deposit, actor=key, amount="1.00")
    assert not_held.value.code == "deposit_not_held"


def test_a_deposit_still_waiting_for_a_card_cannot_be_released_or_captured(
    stripe_on, profile, merchant, key, member
):
    deposit = _deposit(merchant, key, member)

    with pytest.raises(DepositNotHeld):
        deposit_release(deposit=deposit, actor=key)
    with pytest.raises(DepositNotHeld):
        deposit_capture(deposit=deposit, actor=key)


# --- The sweep -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "ends", "intent_status"),
    [(CapturePolicy.RELEASE, S.RELEASED, "canceled"), (CapturePolicy.CAPTURE, S.CAPTURED, "succeeded")],
)
def test_at_day_six_a_hold_gets_its_capture_policy(
    stripe_on, profile, merchant, key, member, policy, ends, intent_status
):
    deposit = _held(merchant, key, member, stripe_on, capture_policy=policy)
    young = _deposit(merchant, key, member, capture_policy=policy)
    Deposit.objects.filter(pk=deposit.pk).update(
        held_at=timezone.now() - POLICY_APPLIED_AFTER - timedelta(minutes=1)
    )

    assert deposits_due() == 1
    assert deposits_due() == 0

    deposit.refresh_from_db()
    assert deposit.status == ends
    assert _intent(stripe_on, deposit)["status"] == intent_status
    if ends == S.CAPTURED:
        assert deposit.captured_amount == deposit.amount
    assert Deposit.objects.get(pk=young.pk).status == S.HELD


def test_a_deposit_never_completed_expires(stripe_on, profile, merchant, key, member):
    deposit = _deposit(merchant, key, member)
    Deposit.objects.filter(pk=deposit.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert deposits_due() == 1

    deposit.refresh_from_db()
    assert (deposit.status, deposit.client_secret) == (S.EXPIRED, "")
    assert stripe_on.get(f"/v1/setup_intents/{deposit.setup_intent_id}")["status"] == "canceled"
    assert webhooks(merchant, "deposit.") == ["deposit.expired"]


def test_a_hold_cancelled_at_stripe_is_seen_as_expired(stripe_on, profile, merchant, key, member):
    deposit = _held(merchant, key, member, stripe_on)
    stripe_on.post(f"/v1/payment_intents/{deposit.payment_intent_id}/cancel", {})

    assert deposit_refresh(deposit=deposit).status == S.EXPIRED
    with pytest.raises(DepositNotHeld):
        deposit_release(deposit=deposit, actor=key)


# --- Stripe down --------------------------------------------------------------------------------------


@pytest.fixture
def stripe_down(stripe_on, settings):
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # nothing listens there


def test_stripe_unreachable_is_payment_provider_unavailable_and_nothing_is_written(
    profile, stripe_down, merchant, key, member
):
    with pytest.raises(PaymentProviderUnavailable) as unavailable:
        _deposit(merchant, key, member)

    assert (unavailable.value.code, unavailable.value.retry_after_seconds) == (
        "payment_provider_unavailable",
        30,
    )
    assert not Deposit.objects.exists()
    assert not MemberStripeCustomer.objects.exists()
    assert not WebhookEvent.objects.exists()


def test_stripe_unreachable_while_releasing_leaves_the_hold_as_it_was(
    stripe_on, profile, merchant, key, member, settings
):
    deposit = _held(merchant, key, member, stripe_on)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(PaymentProviderUnavailable):
        deposit_release(deposit=deposit, actor=key)
    assert deposit_refresh(deposit=deposit, stale_ok=True).status == S.HELD

    settings.STRIPE_API_BASE = stripe_on.url
    assert Deposit.objects.get(pk=deposit.pk).status == S.HELD
    assert _intent(stripe_on, deposit)["status"] == "requires_capture"
    assert deposit_release(deposit=deposit, actor=key).status == S.RELEASED
