"""Billing for the demo merchants: the platform's plan, with a fee per redemption by perk
type, and every merchant on it.

With Stripe keys set, each merchant becomes a customer at Stripe, saves Stripe's test card
(as its owner would on the billing page) and is subscribed to the plan. Its connected
account, where its deposits are held, is a placeholder id: localstripe takes any; against
Stripe's test mode, record real connected accounts with `billing_account_set`. Without keys the
profiles are made with Stripe off: they become customers on the first billing step once
Stripe is on, and deposits meanwhile are waived by a waiver or refused with
`payment_failed`, saying why.
"""

from perks.billing.services import (
    billing_card_save,
    billing_card_setup,
    billing_profile_create,
    plan_price_create,
    redemption_fee_set,
)
from perks.billing.stripe_client import stripe_client, stripe_enabled, stripe_errors
from perks.catalog.models import PerkType
from perks.merchants.models import Merchant, Staff
from perks.merchants.permissions import Role

PLAN = {"name": "Perkline Standard", "currency": "CNY", "monthly_fee": "299.00"}
REDEMPTION_FEES = {
    PerkType.DEPOSIT_WAIVER: "5.00",
    PerkType.FX_MARGIN: "2.00",
    PerkType.ACCESS_PASS: "3.00",
    PerkType.FREE_ITEM: "0.50",
    PerkType.DISCOUNT: "0.50",
}
# Stripe's test card by its test id, which Stripe's test mode and localstripe both know.
TEST_CARD = "pm_card_visa"


def seed_billing() -> None:
    plan = plan_price_create(**PLAN, is_default=True)
    for perk_type, fee in REDEMPTION_FEES.items():
        redemption_fee_set(plan=plan, perk_type=perk_type, amount=fee)
    for merchant in Merchant.objects.order_by("pk"):
        account = demo_account(merchant)
        billing_profile_create(merchant=merchant, actor=None, plan=plan, stripe_account=account)
        if stripe_enabled():
            _card_saved(merchant)


def demo_account(merchant: Merchant) -> str:
    return f"acct_1Demo{merchant.ref.removeprefix('mch_')}"


def _card_saved(merchant: Merchant) -> None:
    """The owner saves the test card: the SetupIntent the billing page makes, confirmed with
    the card as the page's Stripe.js would, then saved, which subscribes the merchant."""
    owner = Staff.objects.select_related("user").get(merchant=merchant, role=Role.OWNER).user
    setup_intent = billing_card_setup(merchant=merchant, actor=owner).split("_secret_")[0]
    with stripe_errors():
        stripe_client().v1.setup_intents.confirm(setup_intent, {"payment_method": TEST_CARD})
    billing_card_save(merchant=merchant, actor=owner, setup_intent_id=setup_intent)
