"""A member completes a deposit in a real browser, through Stripe.js as localstripe serves
it (its shim, at the Stripe API base the server is configured with): a card saved with the
card element holds the deposit; a card that asks for 3-D Secure leaves it
`requires_action`, which `confirmCardPayment` completes."""

import pytest
from playwright.sync_api import Page, expect

from perks.billing.models import Deposit, DepositStatus, MemberStripeCustomer
from tests.factories import JoinedMemberFactory, MerchantFactory, UserFactory
from tests.support.billing import CARD, CARD_3DS, deposit_asked
from tests.support.browser import screenshot, sign_in
from tests.support.links import linked

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"
EMAIL = "mei@example.test"
TIMEOUT_MS = 15_000
CARD_DECLINED = "4000000000000002"  # declined as it is saved


@pytest.fixture
def rental(db):
    return MerchantFactory.create(name="Jade Road Car Rental")


@pytest.fixture
def member(rental):
    member = JoinedMemberFactory.create(user=UserFactory.create(email=EMAIL))
    linked(member, rental)
    return member


@pytest.fixture
def deposit(stripe_on, rental, member):
    """300 CNY the rental firm asked of the member, who has no card saved with it yet."""
    return deposit_asked(rental, member)


def _deposits_page(page: Page, live_server, name: str) -> None:
    """Signed in, through Me to Deposits, and the password given again to add a card
    (loyalty/core/reauth.py); a screenshot `deposit-<name>-…` of each step."""
    sign_in(page, f"{live_server.url}/app/login/", EMAIL, PASSWORD)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Me").click()
    page.get_by_role("link", name="Deposits").click()
    screenshot(page, f"deposit-{name}-1-asked")
    page.get_by_role("button", name="Continue with my password").first.click()
    page.get_by_label("Your password").fill(PASSWORD)
    screenshot(page, f"deposit-{name}-2-password")
    page.get_by_role("button", name="Continue", exact=True).click()


def _card_entered(page: Page, number: str) -> None:
    """Typed into the card element, as a member does (localstripe's element: one input a field)."""
    for field, value in (("number", number), ("exp_month", "12"), ("exp_year", "34"), ("cvc", "123")):
        page.get_by_placeholder(field, exact=True).fill(value)
    page.get_by_placeholder("postal_code", exact=True).fill("200120")


def _status(deposit: Deposit) -> str:
    return Deposit.objects.get(pk=deposit.pk).status


def test_a_card_saved_with_the_card_element_holds_the_deposit(browser_page: Page, live_server, deposit):
    page = browser_page
    assert deposit.status == DepositStatus.REQUIRES_PAYMENT_METHOD
    _deposits_page(page, live_server, "card")

    _card_entered(page, CARD)
    page.get_by_role("button", name="Save the card and hold the deposit").click()

    expect(page.get_by_text("Held on your card.")).to_be_visible(timeout=TIMEOUT_MS)
    screenshot(page, "deposit-card-3-held")
    assert _status(deposit) == DepositStatus.HELD
    expect(page.get_by_text("Visa ending in 4242, expires 12/2034")).to_be_visible()


def test_a_3d_secure_card_is_requires_action_until_confirm_card_payment(
    browser_page: Page, live_server, deposit
):
    page = browser_page
    _deposits_page(page, live_server, "3ds")

    _card_entered(page, CARD_3DS)
    page.get_by_role("button", name="Save the card and hold the deposit").click()
    # Saving the card: the bank's check of the card itself (confirmCardSetup).
    page.get_by_role("button", name="Complete authentication").click()
    # Holding the deposit on it: the bank's check of this payment (confirmCardPayment).
    page.get_by_role("button", name="Complete authentication").wait_for(timeout=TIMEOUT_MS)
    assert _status(deposit) == DepositStatus.REQUIRES_ACTION
    page.get_by_role("button", name="Complete authentication").click()

    expect(page.get_by_text("Held on your card.")).to_be_visible(timeout=TIMEOUT_MS)
    screenshot(page, "deposit-3ds-3-held")
    assert _status(deposit) == DepositStatus.HELD


def test_a_deposit_waiting_for_3d_secure_is_confirmed_from_the_page(
    browser_page: Page, live_server, stripe_on, rental, member
):
    deposit_asked(rental, member, amount="1.00")  # the member's customer at the merchant is made
    stripe_on.card_attach(MemberStripeCustomer.objects.get(member=member).customer_id, CARD_3DS)
    deposit = deposit_asked(rental, member)  # held off-session on that card: the bank asks first
    assert deposit.status == DepositStatus.REQUIRES_ACTION
    page = browser_page
    _deposits_page(page, live_server, "confirm")

    screenshot(page, "deposit-confirm-bank")
    page.get_by_role("button", name="Confirm with my bank").click()
    page.get_by_role("button", name="Complete authentication").click()

    expect(page.get_by_text("Held on your card.")).to_be_visible(timeout=TIMEOUT_MS)
    screenshot(page, "deposit-confirm-3-held")
    assert _status(deposit) == DepositStatus.HELD


def test_a_declined_card_says_so_and_another_card_holds_the_deposit(browser_page: Page, live_server, deposit):
    page = browser_page
    _deposits_page(page, live_server, "declined")
    save = page.get_by_role("button", name="Save the card and hold the deposit")

    _card_entered(page, CARD_DECLINED)
    save.click()
    expect(page.get_by_role("alert")).to_contain_text("declined", timeout=TIMEOUT_MS)
    assert _status(deposit) == DepositStatus.REQUIRES_PAYMENT_METHOD

    _card_entered(page, CARD)
    save.click()

    expect(page.get_by_text("Held on your card.")).to_be_visible(timeout=TIMEOUT_MS)
    screenshot(page, "deposit-declined-3-held")
    assert _status(deposit) == DepositStatus.HELD
