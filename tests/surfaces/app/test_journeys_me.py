"""A member on a phone-sized screen finds everything under Me through the tab bar, and does
what those pages are for: disputes an event ("This is wrong"), appeals a hold, and asks for
their account to be erased. Screenshots of each step are kept under var/screenshots/.
(Completing a deposit is test_deposits_browser.py.)"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from loyalty.members.models import Dimension
from loyalty.members.services import consent_set
from loyalty.points.services import points_adjust
from loyalty.scoring.models import AppealStatus, Dispute, DisputeStatus, HoldAppeal
from loyalty.scoring.services import ScoreEventInput, score_events_record
from tests.factories import HoldFactory, JoinedMemberFactory, MerchantFactory, UserFactory
from tests.support.browser import screenshot, sign_in
from tests.support.links import linked

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"
EMAIL = "an.li@example.test"

# Each row of Me, and the heading of the page it leads to.
ME_ROWS = (
    ("Points", "Points"),
    ("Holds", "Holds"),
    ("Sharing", "What you share"),
    ("Your data and events", "Your score data"),
    ("Member pass", "Member pass"),
    ("Deposits", "Deposits"),
    ("Messages", "Messages"),
    ("Privacy", "Privacy"),
    ("Account and password", "Account and password"),
)


@pytest.fixture
def member():
    member = JoinedMemberFactory.create(user=UserFactory.create(email=EMAIL), display_name="An Li")
    points_adjust(member=member, points=12_480, note="welcome", idempotency_key="welcome", actor="test")
    consent_set(member=member, dimension=Dimension.FULFILMENT, granted=True, source="app")
    return member


@pytest.fixture
def rental(member):
    merchant = MerchantFactory.create(name="Swift Car Rental")
    linked(member, merchant)
    return merchant


def tab(page: Page, name: str):
    return page.get_by_role("navigation", name="Sections").get_by_role("link", name=name)


def signed_in_at_me(page: Page, live_server) -> None:
    sign_in(page, f"{live_server.url}/app/login/", EMAIL, PASSWORD)
    tab(page, "Me").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("An Li")


def test_the_tab_bar_leads_everywhere_and_me_to_every_page_under_it(browser_page: Page, live_server, member):
    page = browser_page
    sign_in(page, f"{live_server.url}/app/login/", EMAIL, PASSWORD)
    expect(tab(page, "Score")).to_have_attribute("aria-current", "page")
    screenshot(page, "me-00-score")
    for name in ("Perks", "Wallet"):
        tab(page, name).click()
        expect(tab(page, name)).to_have_attribute("aria-current", "page")
        screenshot(page, f"me-00-{name.lower()}")

    tab(page, "Me").click()
    expect(tab(page, "Me")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("link", name="Points")).to_contain_text("12,480")
    screenshot(page, "me-01-me")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "me-01-me-dark")
    page.emulate_media(color_scheme="light")

    for number, (row, heading) in enumerate(ME_ROWS, start=2):
        page.get_by_role("link", name=row).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(tab(page, "Me")).to_have_attribute("aria-current", "page")
        screenshot(page, f"me-{number:02d}-{row.split()[0].lower()}")
        page.get_by_role("banner").get_by_role("link", name="Me").click()  # the top bar's way back
        expect(page.get_by_role("heading", level=1)).to_have_text("An Li")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Sections")).to_have_count(0)
    screenshot(page, "me-99-signed-out")


def test_a_member_disputes_an_event_that_is_wrong(browser_page: Page, live_server, member, rental):
    score_events_record(
        source=rental.ref,
        events=[
            ScoreEventInput("late-1", member.pk, "rental_returned_late", timezone.now() - timedelta(hours=2))
        ],
    )
    page = browser_page
    signed_in_at_me(page, live_server)

    page.get_by_role("link", name="Your data and events").click()
    event = page.locator("section.card", has_text="Swift Car Rental")
    event.get_by_text("This is wrong").click()
    event.get_by_label("What is wrong with it?", exact=False).fill(
        "I returned the car on time; the desk signed the slip."
    )
    screenshot(page, "dispute-1-reason")
    event.get_by_role("button", name="Dispute it").click()

    expect(page.locator("section.card", has_text="Swift Car Rental")).to_contain_text("Your dispute")
    screenshot(page, "dispute-2-disputed")
    assert Dispute.objects.get(member=member).status == DisputeStatus.OPEN


def test_a_member_appeals_a_hold(browser_page: Page, live_server, member):
    HoldFactory.create(member=member, merchant_name="Swift Car Rental")
    page = browser_page
    signed_in_at_me(page, live_server)
    expect(page.get_by_role("link", name="Holds")).to_contain_text("1 active")

    page.get_by_role("link", name="Holds").click()
    page.get_by_text("Contest this hold").click()
    page.get_by_label("Why should this hold be lifted?").fill(
        "I paid invoice INV-88 at the airport branch last week; the receipt number is 55120."
    )
    screenshot(page, "appeal-1-reason")
    page.get_by_role("button", name="Send my appeal").click()

    expect(page.get_by_role("status")).to_have_text(
        "Your appeal is filed. An operator will decide and tell you why."
    )
    screenshot(page, "appeal-2-filed")
    assert HoldAppeal.objects.get(hold__member=member).status == AppealStatus.OPEN


def test_a_member_asks_for_their_account_to_be_erased_after_giving_the_password(
    browser_page: Page, live_server, member
):
    page = browser_page
    signed_in_at_me(page, live_server)

    page.get_by_role("link", name="Privacy").click()
    page.get_by_role("link", name="Delete my account").click()
    screenshot(page, "erasure-1-what-it-does")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Delete my account").click()

    expect(page.get_by_text("Your account will be erased on")).to_be_visible()
    screenshot(page, "erasure-2-requested")
    member.refresh_from_db()
    assert member.erasure_requested_at is not None

    page.get_by_role("button", name="Cancel the deletion").click()
    expect(page.get_by_role("status")).to_have_text("Cancelled: your account stays as it is.")
    member.refresh_from_db()
    assert member.erasure_requested_at is None
