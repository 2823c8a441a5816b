"""Saved cards as Stripe holds them: the card a merchant's invoices are charged to, and the
cards a member saved for deposits, one customer per merchant's connected account.

Stripe is the only record of a card (Perkline keeps no card data), so each read asks it.
A member removes a card by detaching it from their customer: no deposit holds on it again
off-session, and an authorisation already made stays until released or captured.
"""

import re
from dataclasses import dataclass
from typing import Any

import stripe

from loyalty.members.models import Member
from perks.billing.errors import CardNotFound
from perks.billing.models import BillingProfile, MemberStripeCustomer
from perks.billing.stripe_client import as_dict, object_id, stripe_client, stripe_enabled, stripe_errors
from perks.merchants.models import Merchant
from perks.merchants.permissions import Permission
from perks.merchants.services import Actor, actor_require

# Stripe's ids are letters, digits and underscores; anything else never reaches its URLs.
_CARD_ID = re.compile(r"(pm|card)_[A-Za-z0-9_]{1,200}")


@dataclass(frozen=True)
class Card:
    id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class MerchantCards:
    """The cards a member saved for one merchant's deposits (on its connected account)."""

    merchant_name: str
    stripe_account: str
    cards: list[Card]


def billing_card_on_file(*, merchant: Merchant, actor: Actor) -> Card | None:
    """The card the merchant's invoices are charged to; None before one is saved, or with
    Stripe off."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.BILLING_VIEW)
    customer_id = (
        BillingProfile.objects.filter(merchant=merchant).values_list("stripe_customer_id", flat=True).first()
    )
    if not stripe_enabled() or not customer_id:
        return None
    client = stripe_client()
    with stripe_errors():
        customer = client.v1.customers.retrieve(customer_id)
        card_id = object_id(as_dict(as_dict(customer).get("invoice_settings")).get("default_payment_method"))
        return _card(client.v1.payment_methods.retrieve(card_id)) if card_id else None


def member_cards(*, member: Member) -> list[MerchantCards]:
    """The cards the member saved for deposits, by merchant, oldest customer first."""
    if not stripe_enabled():
        return []
    customers = list(MemberStripeCustomer.objects.filter(member=member).order_by("created_at", "pk"))
    names = dict(
        BillingProfile.objects.filter(stripe_account__in=[c.stripe_account for c in customers]).values_list(
            "stripe_account", "merchant__name"
        )
    )
    found = []
    with stripe_errors():
        for customer in customers:
            client = stripe_client(account=customer.stripe_account)
            listed = client.v1.payment_methods.list({"customer": customer.customer_id, "type": "card"})
            found.append(
                MerchantCards(
                    merchant_name=names.get(customer.stripe_account, ""),
                    stripe_account=customer.stripe_account,
                    cards=[_card(card) for card in listed.data],
                )
            )
    return found


def member_card_remove(*, member: Member, stripe_account: str, card_id: str) -> Card:
    """Take one of the member's saved cards off their customer on `stripe_account`; a card
    that is not theirs there (or no card at all) is not found."""
    customer_id = (
        MemberStripeCustomer.objects.filter(member=member, stripe_account=stripe_account)
        .values_list("customer_id", flat=True)
        .first()
    )
    if not customer_id or not stripe_enabled() or not _CARD_ID.fullmatch(card_id):
        raise CardNotFound(param="card")
    client = stripe_client(account=stripe_account)
    with stripe_errors():
        try:
            card = client.v1.payment_methods.retrieve(card_id)
        except stripe.InvalidRequestError:
            raise CardNotFound(param="card") from None
        if object_id(card.customer) != customer_id:
            raise CardNotFound(param="card")
        client.v1.payment_methods.detach(card_id)
    return _card(card)


def _card(payment_method: Any) -> Card:
    card = as_dict(as_dict(payment_method).get("card"))
    return Card(
        id=str(payment_method.id),
        brand=str(card.get("brand") or "card"),
        last4=str(card.get("last4") or ""),
        exp_month=int(card.get("exp_month") or 0),
        exp_year=int(card.get("exp_year") or 0),
    )
