"""axe-core on every page of the citizen app, in English and in Chinese, light and dark, on
a phone-sized screen: no serious or critical violation anywhere.

The pages are those of surfaces/app/urls.py: a URL added there must be named below, as a
page axe checks or as something that is not a page (an action, a file), or
`test_every_app_url_is_checked_or_is_not_a_page` fails. The member's pages are the list the
`app_pages` benchmark times. The member has something on every page: points, a voucher, a
perk to claim, a hold, events from a linked merchant, a deposit waiting for a card (Stripe
as localstripe plays it).
"""

from datetime import timedelta

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from playwright.sync_api import Browser, Page

from bench import app_pages
from loyalty.members.models import Dimension, Locale, Member
from loyalty.members.services import consent_set
from loyalty.points.services import points_adjust
from loyalty.scoring.services import ScoreEventInput, score_events_record
from perks.catalog.models import Perk
from perks.vouchers.models import Voucher
from tests.factories import (
    HoldFactory,
    JoinedMemberFactory,
    MerchantFactory,
    PerkFactory,
    UserFactory,
    VoucherFactory,
)
from tests.support.axe import Violation, axe_source, serious_violations
from tests.support.billing import deposit_asked
from tests.support.browser import chromium
from tests.support.links import linked

PASSWORD = "correct horse battery staple"
EMAIL = "an.li@example.test"

# Pages a signed-out visitor opens, then pages of a signed-in member, by URL name.
VISITOR_PAGES = (
    "app:login",
    "app:login-token",
    "app:password-reset",
    "app:password-reset-sent",
    "app:password-reset-confirm",
    "app:password-reset-done",
    "app:offline",
)
# The pages a signed-in member opens: the benchmark times the same list.
MEMBER_PAGES = app_pages.PAGES
# App URLs that are not pages: actions a form posts to, files, the sign-out.
NOT_PAGES = {
    "app:logout": "a POST that signs out",
    "app:language": "a POST that changes the language",
    "app:password-confirm": "a POST; its question is the page of the action it holds up",
    "app:event-dispute": "a POST from the events page",
    "app:hold-appeal": "a POST from the holds page",
    "app:link-add": "a POST from the sharing page",
    "app:link-end": "a POST from the sharing page",
    "app:account-delete-cancel": "a POST from the erasure page",
    "app:deposit-complete": "a POST of the card form's script",
    "app:card-remove": "a POST from the deposits page",
    "app:privacy-export": "a JSON file",
    "app:voucher-qr": "an image",
    "app:manifest": "the web app manifest (JSON)",
    "app:sw": "the service worker's script",
}


def app_url_names() -> set[str]:
    resolver = get_resolver()
    app_patterns = next(
        pattern
        for pattern in resolver.url_patterns
        if isinstance(pattern, URLResolver) and pattern.namespace == "app"  # surfaces/app/urls.py
    )
    return {
        f"app:{pattern.name}"
        for pattern in app_patterns.url_patterns
        if isinstance(pattern, URLPattern) and pattern.name
    }


def test_every_app_url_is_checked_or_is_not_a_page():
    named = {*VISITOR_PAGES, *MEMBER_PAGES, *NOT_PAGES}
    unnamed = app_url_names() - named
    assert not unnamed, f"app URLs neither checked by axe nor listed as not pages: {sorted(unnamed)}"
    assert not named - app_url_names(), f"listed but gone from the app: {sorted(named - app_url_names())}"


def _member() -> Member:
    member = JoinedMemberFactory.create(user=UserFactory.create(email=EMAIL), display_name="An Li")
    points_adjust(member=member, points=12_480, note="welcome", idempotency_key="welcome", actor="test")
    rental = MerchantFactory.create(name="Jade Road Car Rental")
    linked(member, rental)
    consent_set(member=member, dimension=Dimension.FULFILMENT, granted=True, source="app")
    score_events_record(
        source=rental.ref,
        events=[
            ScoreEventInput(
                f"late-{n}", member.pk, "rental_returned_late", timezone.now() - timedelta(days=n)
            )
            for n in range(1, 4)
        ],
    )
    HoldFactory.create(member=member)
    VoucherFactory.create(member=member, perk=PerkFactory.create(title="Free flat white", points_cost=0))
    PerkFactory.create(title="A week's car hire at 10 % off", points_cost=900)
    deposit_asked(rental, member)
    return member


def _url(name: str, member: Member) -> str:
    if name == "app:voucher":
        return reverse(name, args=[Voucher.objects.filter(member=member).values_list("pk", flat=True)[0]])
    if name == "app:perk-claim":
        return reverse(name, args=[Perk.objects.filter(points_cost__gt=0).values_list("ref", flat=True)[0]])
    if name == "app:password-reset-confirm":
        uid = urlsafe_base64_encode(force_bytes(member.user.pk))
        return reverse(name, args=[uid, default_token_generator.make_token(member.user)])
    return reverse(name)


def _checked(page: Page, url: str, source: str, *, as_asked: bool = False) -> list[Violation]:
    """axe's serious findings on the page at `url`; `as_asked`: it must be that page itself,
    not a sign-in or an error page it turned into."""
    response = page.goto(url)
    if as_asked:
        assert response is not None
        assert response.status == 200, f"{url} answered {response.status}"
        assert page.url == url, f"{url} went to {page.url}"
    return serious_violations(page, source)


def _sign_in(page: Page, base: str) -> None:
    """Through the sign-in form, in whatever language it speaks."""
    page.goto(f"{base}{reverse('app:login')}")
    page.locator("input[name=username]").fill(EMAIL)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=password]").press("Enter")
    page.wait_for_url(f"{base}{reverse('app:home')}")


def _pages_checked(browser: Browser, base: str, urls: dict[str, str], *, language: str, scheme: str) -> dict:
    """Every page's serious findings, by URL name. No database work in here: Playwright's
    event loop runs, and a query would open a connection that outlives the test."""
    source = axe_source()
    found: dict[str, list[Violation]] = {}
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        locale="zh-CN" if language == Locale.SIMPLIFIED_CHINESE else "en-GB",
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    try:
        page = context.new_page()
        # The reset link first, while its token is good (signing in would spend it).
        for name in VISITOR_PAGES:
            found[name] = _checked(page, f"{base}{urls[name]}", source)
        _sign_in(page, base)
        for name in MEMBER_PAGES:
            found[name] = _checked(page, f"{base}{urls[name]}", source, as_asked=True)
    finally:
        context.close()
    return {name: violations for name, violations in found.items() if violations}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("language", [Locale.ENGLISH, Locale.SIMPLIFIED_CHINESE])
def test_no_page_has_a_serious_accessibility_violation(live_server, stripe_on, language, scheme):
    axe_source()  # skips before any work when axe-core is not installed
    member = _member()
    Member.objects.filter(pk=member.pk).update(locale=language)
    urls = {name: _url(name, member) for name in (*VISITOR_PAGES, *MEMBER_PAGES)}

    with chromium() as browser:
        failures = _pages_checked(browser, live_server.url, urls, language=language, scheme=scheme)

    assert not failures, "serious or critical axe violations:\n" + "\n".join(
        f"{name}: {violation}" for name, violations in failures.items() for violation in violations
    )
