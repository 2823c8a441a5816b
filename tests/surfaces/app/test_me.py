"""The app's shell and the Me page: a bottom tab bar that marks where the member is, a top
bar with the page's title (and the way back to Me from a page under it), and Me itself,
which leads to every page that is not Score, Perks or Wallet, with a count where one helps."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.members.models import Dimension
from loyalty.members.services import consent_set
from loyalty.points.services import points_adjust
from loyalty.scoring.services import hold_lift
from surfaces.app.templatetags.app_format import points
from tests.factories import HoldFactory, JoinedMemberFactory, MerchantFactory, UserFactory, VoucherFactory
from tests.support.billing import deposit_asked
from tests.support.links import linked

pytestmark = pytest.mark.django_db

ME_PAGES = (
    "app:points",
    "app:pass",
    "app:holds",
    "app:consents",
    "app:events",
    "app:privacy",
    "app:deposits",
    "app:messages",
    "app:account",
)
TAB_LINK = re.compile(r'<a href="([^"]+)"( aria-current="page")?><svg class="icon"')


@pytest.fixture
def member():
    return JoinedMemberFactory.create(
        display_name="An Li", user=UserFactory.create(email="an.li@example.test")
    )


def html(client, url_name, *args):
    response = client.get(reverse(url_name, args=args))
    assert response.status_code == 200
    return response.content.decode()


def tabs(page):
    """The tab bar's links, by where they lead: whether each is marked as the current one."""
    bar = page.split('<nav class="tabbar"', 1)[1].split("</nav>", 1)[0]
    return {href: bool(current) for href, current in TAB_LINK.findall(bar)}


def current_tab(page):
    marked = [href for href, current in tabs(page).items() if current]
    assert len(marked) == 1, f"one tab is the current one, not {marked}"
    return marked[0]


def row_status(page, url_name):
    """The short status Me shows in the row leading to `url_name`, or "" when it shows none."""
    row = page.split(f'<a class="row-link" href="{reverse(url_name)}">', 1)[1].split("</a>", 1)[0]
    status = re.search(r'<span class="row-status[^"]*">([^<]*)</span>', row)
    return status.group(1) if status else ""


@pytest.mark.parametrize("url_name", ["app:me", "app:messages"])
def test_signed_out_visitors_are_sent_to_sign_in(client, url_name):
    response = client.get(reverse(url_name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("app:login"))


def test_me_names_the_member_and_leads_to_every_page_under_it(signed_in):
    page = html(signed_in, "app:me")

    assert "<h1>An Li</h1>" in page
    assert "an.li@example.test" in page
    for url_name in ME_PAGES:
        assert f'<a class="row-link" href="{reverse(url_name)}">' in page, url_name
    assert f'<form method="post" action="{reverse("app:logout")}" class="signout">' in page


def test_me_shows_the_points_balance_grouped(signed_in, member):
    points_adjust(member=member, points=12_480, note="welcome", idempotency_key="welcome", actor="test")

    assert row_status(html(signed_in, "app:me"), "app:points") == points(12_480)


def test_me_counts_only_the_holds_in_force(signed_in, member):
    assert row_status(html(signed_in, "app:me"), "app:holds") == "None"

    HoldFactory.create(member=member)
    ended = HoldFactory.create(member=member)
    hold_lift(hold=ended, merchant_ref=ended.merchant_ref)

    page = html(signed_in, "app:me")
    assert row_status(page, "app:holds") == "1 active"
    assert 'class="row-status attention">1 active' in page


def test_me_says_how_many_kinds_of_data_are_shared(signed_in, member):
    consent_set(member=member, dimension=Dimension.FULFILMENT, granted=True, source="app")

    assert row_status(html(signed_in, "app:me"), "app:consents") == f"1 of {len(Dimension)} shared"


def test_me_counts_the_deposits_waiting_for_the_member(stripe_on, signed_in, member):
    assert row_status(html(signed_in, "app:me"), "app:deposits") == ""
    rental = MerchantFactory.create(name="Jade Road Car Rental")
    linked(member, rental)

    deposit_asked(rental, member)
    deposit_asked(MerchantFactory.create(), JoinedMemberFactory.create())  # someone else's

    assert row_status(html(signed_in, "app:me"), "app:deposits") == "1 waiting for you"


def test_every_page_has_the_tab_bar_with_the_four_tabs_and_one_current(signed_in):
    page = html(signed_in, "app:me")

    assert list(tabs(page)) == [
        reverse("app:home"),
        reverse("app:perks"),
        reverse("app:wallet"),
        reverse("app:me"),
    ]
    for label in ("Score", "Perks", "Wallet", "Me"):
        assert f"<span>{label}</span></a>" in page  # the label is visible, not only the icon


@pytest.mark.parametrize("url_name", ["app:me", *ME_PAGES, "app:password-change", "app:account-delete"])
def test_the_pages_under_me_mark_the_me_tab(signed_in, url_name):
    assert current_tab(html(signed_in, url_name)) == reverse("app:me")


@pytest.mark.parametrize(
    ("url_name", "tab"), [("app:home", "app:home"), ("app:perks", "app:perks"), ("app:wallet", "app:wallet")]
)
def test_score_perks_and_wallet_mark_their_own_tab(signed_in, url_name, tab):
    assert current_tab(html(signed_in, url_name)) == reverse(tab)


def test_a_voucher_is_in_the_wallet_tab(signed_in, member):
    voucher = VoucherFactory.create(member=member, expires_at=timezone.now() + timedelta(days=7))

    assert current_tab(html(signed_in, "app:voucher", voucher.pk)) == reverse("app:wallet")


@pytest.mark.parametrize("url_name", ["app:login", "app:password-reset", "app:login-token"])
def test_pages_before_sign_in_have_no_tab_bar(client, url_name):
    response = client.get(reverse(url_name), follow=True)

    assert response.status_code == 200
    assert 'class="tabbar"' not in response.content.decode()


def test_the_top_bar_names_the_page_and_leads_back_to_me_from_a_page_under_it(signed_in):
    holds = html(signed_in, "app:holds")
    me = html(signed_in, "app:me")

    assert '<p class="topbar-title">Holds</p>' in holds
    assert f'<a class="topbar-back" href="{reverse("app:me")}">' in holds
    assert "<title>Holds · Perkline</title>" in holds
    assert '<p class="topbar-title">Me</p>' in me
    assert 'class="topbar-back"' not in me


@pytest.mark.parametrize("url_name", ["app:me", "app:messages", *ME_PAGES, "app:account-delete"])
def test_each_page_under_me_has_one_h1(signed_in, url_name):
    assert html(signed_in, url_name).count("<h1") == 1
