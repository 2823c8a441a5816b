"""The member's Deposits page: their own deposits in every state (waived by which perk,
pending, held, released, captured), completing a pending one, and the cards saved for
deposits, which they can remove; nobody else's. The card form itself runs in Chromium in
test_deposits_browser.py."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from perks.billing.models import DepositStatus, MemberStripeCustomer
from perks.billing.services import deposit_capture, deposit_create, deposit_release
from surfaces.app.templatetags.app_format import money
from tests.factories import JoinedMemberFactory, MerchantFactory
from tests.support.billing import CARD_3DS, deposit_asked, deposit_held, deposit_waived, linked_member, waiver
from tests.support.stripe import free_port

pytestmark = pytest.mark.django_db

URL = reverse("app:deposits")
PASSWORD = "correct horse battery staple"  # UserFactory's


@pytest.fixture
def rental(db):
    return MerchantFactory.create(name="Jade Road Car Rental")


@pytest.fixture
def member(rental):
    return linked_member(rental)


@pytest.fixture
def signed_in(client, member):
    """Signed in, and the password given again a moment ago, as the cards ask."""
    client.force_login(member.user)
    client.post(reverse("app:password-confirm"), {"password": PASSWORD, "next": URL})
    return client


def page(client):
    response = client.get(URL)
    assert response.status_code == 200
    return response.content.decode()


def _owner(merchant):
    return merchant.staff.get(role="owner").user


def complete(client, deposit):
    return client.post(reverse("app:deposit-complete", args=[deposit.ref]))


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("app:login"))


def test_me_leads_to_deposits(signed_in):
    assert f'href="{URL}"' in signed_in.get(reverse("app:me")).content.decode()


def test_a_waived_deposit_names_the_perk_that_waived_it_and_others_deposits_are_not_shown(
    signed_in, rental, member
):
    waiver(rental, member, max_amount="500.00")
    deposit_create(merchant=rental, actor=_owner(rental), member=member, amount="300", currency="CNY")
    someone_else = deposit_waived(MerchantFactory.create(name="Lantern Hotels"))

    shown = page(signed_in)

    assert "Jade Road Car Rental" in shown
    assert money(Decimal("300.00"), "CNY") in shown
    assert "Waived by your perk “No deposit up to 500.00”" in shown
    assert someone_else.ref not in shown
    assert "Lantern Hotels" not in shown
    assert "js.stripe.com" not in shown  # Stripe off: no card form, no Stripe.js


def test_a_pending_deposit_has_the_card_form_on_stripe_js_from_the_configured_stripe(
    stripe_on, signed_in, rental, member
):
    deposit = deposit_asked(rental, member)

    shown = page(signed_in)

    assert f'<script src="{stripe_on.url}/js.stripe.com/v3/"></script>' in shown
    assert re.search(r'<script src="/static/js/card\.js" defer>', shown)
    assert "<script>" not in shown  # no inline script
    found = re.search(r"<form[^>]*data-card-form[^>]*>", shown)
    assert found is not None
    form = found.group(0)
    assert f'data-client-secret="{deposit.client_secret}"' in form
    assert f'data-stripe-account="{deposit.stripe_account}"' in form
    assert 'data-publishable-key="pk_test_perkline"' in form
    assert reverse("app:deposit-complete", args=[deposit.ref]) in form
    assert "Save the card and hold the deposit" in shown


def test_completing_after_the_card_is_saved_holds_the_deposit(stripe_on, signed_in, rental, member):
    deposit = deposit_asked(rental, member)
    assert complete(signed_in, deposit).json()["status"] == DepositStatus.REQUIRES_PAYMENT_METHOD

    stripe_on.card_setup_confirm(deposit.client_secret)  # Stripe.js's confirmCardSetup
    answer = complete(signed_in, deposit).json()

    assert answer == {"status": "held", "label": "Held on the card"}
    assert "Held on your card." in page(signed_in)


def test_a_card_that_wants_3d_secure_gives_the_page_the_payment_to_confirm(
    stripe_on, signed_in, rental, member
):
    deposit_asked(rental, member, amount="1.00")
    stripe_on.card_attach(MemberStripeCustomer.objects.get(member=member).customer_id, CARD_3DS)
    deposit = deposit_create(
        merchant=rental, actor=_owner(rental), member=member, amount="300", currency="CNY"
    )
    answer = complete(signed_in, deposit).json()

    assert answer["status"] == "requires_action"
    assert answer["client_secret"].startswith(deposit.payment_intent_id)
    assert "Confirm with my bank" in page(signed_in)
    stripe_on.card_authenticate(answer["client_secret"])  # confirmCardPayment
    assert complete(signed_in, deposit).json()["status"] == "held"


def test_someone_elses_deposit_cannot_be_completed(stripe_on, signed_in, rental):
    theirs = deposit_asked(rental, linked_member(rental))

    assert complete(signed_in, theirs).status_code == 404


def test_released_and_captured_deposits_say_what_happened(stripe_on, signed_in, rental, member):
    released = deposit_held(rental, member, amount="100.00")
    captured = deposit_held(rental, member, amount="500.00")
    owner = _owner(rental)
    deposit_release(deposit=released, actor=owner)
    deposit_capture(deposit=captured, actor=owner, amount="120.00")

    shown = page(signed_in)

    assert "Released: nothing was taken from your card." in shown
    took = money(Decimal("120.00"), "CNY")
    assert f"The merchant took {took}; the rest went back to your card." in shown


def test_the_cards_saved_for_a_merchant_are_listed_and_one_can_be_removed(
    stripe_on, signed_in, rental, member
):
    deposit_held(rental, member)
    customer = MemberStripeCustomer.objects.get(member=member)
    [card] = stripe_on.get("/v1/payment_methods", customer=customer.customer_id, type="card")["data"]

    shown = page(signed_in)
    assert "Visa ending in 4242, expires 12/2034" in shown
    response = signed_in.post(
        reverse("app:card-remove"), {"account": customer.stripe_account, "card": card["id"]}, follow=True
    )

    assert "The card ending in 4242 is removed" in response.content.decode()
    assert stripe_on.get("/v1/payment_methods", customer=customer.customer_id, type="card")["data"] == []
    assert "No card saved." in page(signed_in)


def test_someone_elses_card_cannot_be_removed(stripe_on, signed_in, rental, member):
    other = JoinedMemberFactory.create()
    deposit_held(rental, other)
    theirs = MemberStripeCustomer.objects.get(member=other)
    [card] = stripe_on.get("/v1/payment_methods", customer=theirs.customer_id, type="card")["data"]
    deposit_asked(rental, member)  # this member has a customer on the same account

    response = signed_in.post(
        reverse("app:card-remove"), {"account": theirs.stripe_account, "card": card["id"]}
    )

    assert response.status_code == 404
    assert len(stripe_on.get("/v1/payment_methods", customer=theirs.customer_id, type="card")["data"]) == 1


def test_with_stripe_unreachable_the_page_still_shows_the_deposits(
    stripe_on, settings, signed_in, rental, member
):
    deposit_asked(rental, member)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"

    shown = page(signed_in)

    assert "Waiting for a card" in shown
    assert "Your saved cards cannot be shown right now." in shown
