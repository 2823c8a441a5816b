"""axe-core on every page of the merchant portal, in English and in Chinese, at 1280 by 800 as
the merchants' staff use it: no serious or critical violation anywhere, and `<html lang>`
in the language the page is in.

Which pages: every URL of surfaces/portal/urls.py. A merchant's pages are the GET rows of
`PAGES` in test_roles.py, which already says how to reach each one, so a page that gets
its row there is checked here with no more work; one that is not a page (a CSV, an htmx
fragment) is named in `NOT_PAGES` below. The portal's other URLs (sign-in, the person's own
account, the password pages, an invitation) are rows of `VISITOR_PAGES` or `PERSONAL_PAGES`.
A URL in none of these fails `test_every_portal_url_is_checked_or_is_not_a_page`, saying
where to add it.

The pages no URL names are checked where they appear: the second step of a sign-in with
two-factor, the lockout after too many wrong passwords, the 403 of a page the role may not
open. The merchant has something on every list: each row of test_roles.PAGES makes its objects
(a perk, a key, a webhook delivery, a redemption, a campaign, a hold, staff, a location…),
POST rows included. The owner also works as a cashier at a second merchant, so the list of
merchants and the page a role may not open are checked too.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Browser, Page, Response

from perks.merchants.models import Staff
from perks.merchants.permissions import Role
from perks.merchants.services import staff_invite
from tests.factories import MerchantFactory, StaffFactory, UserFactory
from tests.support.axe import Violation, axe_source, serious_violations
from tests.support.browser import chromium, screenshot
from tests.surfaces.portal import test_roles as roles

PASSWORD = "correct horse battery staple"
EMAIL = "owner@example.test"
TWO_FACTOR_EMAIL = "careful.owner@example.test"  # signs in with a code too: the second step's page
LOCKED_EMAIL = "forgetful@example.test"  # refused until locked out: the lockout page
LOCK_AFTER = 3  # refused sign-ins (AXES_FAILURE_LIMIT, lowered for the test)
LANGUAGES = {"en": "en-GB", "zh-hans": "zh-CN"}  # the page's language: the browser's that asks for it

Args = Callable[[Staff], list[str | int]]


def _reset_token(owner: Staff) -> list[str | int]:
    user: User = owner.user
    return [urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)]


def _invitation_token(owner: Staff) -> list[str | int]:
    invited = staff_invite(
        merchant=owner.merchant, actor=owner.user, email="invited@example.test", role=Role.CASHIER
    )
    return [invited.token]


@dataclass(frozen=True)
class Visit:
    """A portal URL outside a merchant, as axe opens it: the arguments its URL needs, and
    whether it answers itself (False: it leads elsewhere, as a step out of order does)."""

    name: str
    args: Args = lambda owner: []
    as_asked: bool = True


# Signed out, in this order: the reset link while its token is good (signing in spends it).
VISITOR_PAGES = (
    Visit("portal:login"),
    Visit("portal:login-token"),  # reached as TWO_FACTOR_EMAIL gives the password
    Visit("portal:password-reset"),
    Visit("portal:password-reset-sent"),
    Visit("portal:password-reset-confirm", _reset_token, as_asked=False),  # to its set-password form
    Visit("portal:password-reset-done"),
    Visit("portal:invitation", _invitation_token),
)
# Signed in, the person's own pages (not a merchant's).
PERSONAL_PAGES = (
    Visit("portal:home"),  # the owner works at two merchants: the list, not a redirect
    Visit("portal:account"),
    Visit("portal:totp-enrol"),
    Visit("portal:password-change"),
)
# Portal URLs that are not pages: actions a form posts to, files, fragments of a page.
# (A merchant's POST-only URLs are marked so in test_roles.PAGES and need no line here.)
NOT_PAGES = {
    "portal:logout": "a POST that signs out",
    "portal:language": "a POST that changes the language",
    "portal:campaign-progress": "the htmx fragment of the campaign page, checked inside it",
    "portal:campaign-codes": "a CSV file",
    "portal:audit-csv": "a CSV file",
    "portal:export-redemptions": "a CSV file",
    "portal:export-vouchers": "a CSV file",
}


def portal_url_names() -> set[str]:
    portal = next(
        pattern
        for pattern in get_resolver().url_patterns
        if isinstance(pattern, URLResolver) and pattern.namespace == "portal"
    )
    return {f"portal:{p.name}" for p in portal.url_patterns if isinstance(p, URLPattern) and p.name}


def merchant_pages() -> list[roles.Page]:
    """The merchant's pages axe opens: test_roles' GET rows that are pages."""
    return [page for page in roles.PAGES if page.method == "get" and page.name not in NOT_PAGES]


def test_every_portal_url_is_checked_or_is_not_a_page():
    checked = {visit.name for visit in (*VISITOR_PAGES, *PERSONAL_PAGES)} | {p.name for p in merchant_pages()}
    posted = {page.name for page in roles.PAGES if page.method != "get"}
    routed = portal_url_names()

    unnamed = routed - checked - posted - set(NOT_PAGES)
    assert not unnamed, (
        "portal URLs neither checked by axe nor listed as not pages: "
        f"{sorted(unnamed)}. A merchant's page: add its row to PAGES in test_roles.py; "
        "another page: a Visit in VISITOR_PAGES or PERSONAL_PAGES here; a file, fragment or "
        "POST: a line in NOT_PAGES here."
    )
    gone = (checked | set(NOT_PAGES)) - routed
    assert not gone, f"listed here but gone from the portal: {sorted(gone)}"
    not_ok = [page.name for page in merchant_pages() if page.answer != 200]
    assert not not_ok, (
        f"GET rows of test_roles.PAGES that do not answer 200 (a file? add to NOT_PAGES): {not_ok}"
    )


def _merchant_with_everything() -> Staff:
    owner = StaffFactory.create(role=Role.OWNER, user=UserFactory.create(email=EMAIL))
    for page in roles.PAGES:
        page.objects(owner)
    careful = StaffFactory.create(role=Role.OWNER, user=UserFactory.create(email=TWO_FACTOR_EMAIL))
    TOTPDevice.objects.create(user=careful.user, name="phone", confirmed=True)
    return owner


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    status: int = 200
    as_asked: bool = True


def _targets(owner: Staff) -> tuple[list[Target], list[Target]]:
    """What to open signed out, then signed in; every object made now, before the browser
    starts (no database work while Playwright's loop runs)."""
    visitor = [
        Target(visit.name, reverse(visit.name, args=visit.args(owner)), as_asked=visit.as_asked)
        for visit in VISITOR_PAGES
    ]
    signed_in = [Target(visit.name, reverse(visit.name, args=visit.args(owner))) for visit in PERSONAL_PAGES]
    signed_in += [
        Target(page.name, reverse(page.name, args=[owner.merchant.slug, *page.objects(owner)]))
        for page in merchant_pages()
    ]
    elsewhere = StaffFactory.create(role=Role.CASHIER, user=owner.user, merchant=MerchantFactory.create())
    signed_in.append(Target("forbidden", reverse("portal:keys", args=[elsewhere.merchant.slug]), status=403))
    UserFactory.create(email=LOCKED_EMAIL)
    # Last, signed out again: the lockout shuts the sign-in to the browser's network too.
    signed_in.append(Target("locked-out", reverse("portal:login"), status=429))
    return visitor, signed_in


def _checked(page: Page, base: str, target: Target, source: str, language: str) -> list[str]:
    """What is wrong with the page: axe's serious findings, a wrong `lang`, an answer that is
    not the page asked for."""
    response = _locked_out(page, base) if target.name == "locked-out" else page.goto(f"{base}{target.url}")
    problems = []
    if target.as_asked:
        assert response is not None
        if response.status != target.status:
            problems.append(f"answered {response.status}, not {target.status}")
        if page.url != f"{base}{target.url}":
            problems.append(f"went to {page.url}")
    lang = page.evaluate("document.documentElement.lang")
    if lang != language:
        problems.append(f'<html lang="{lang}">, not {language}')
    violations: list[Violation] = serious_violations(page, source)
    return problems + [str(violation) for violation in violations]


def _sign_in(page: Page, base: str, email: str = EMAIL, lands_on: str = "portal:home") -> None:
    """Through the sign-in form, in whatever language it speaks."""
    page.goto(f"{base}{reverse('portal:login')}")
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=password]").press("Enter")
    page.wait_for_url(f"{base}{reverse(lands_on)}")


def _locked_out(page: Page, base: str) -> Response | None:
    """The sign-in's answer once a wrong password has been given too often."""
    page.goto(f"{base}{reverse('portal:login')}")
    response = None
    for _attempt in range(LOCK_AFTER + 1):
        page.locator("input[name=username]").fill(LOCKED_EMAIL)
        page.locator("input[name=password]").fill("not the password")
        with page.expect_navigation() as navigation:
            page.locator("input[name=password]").press("Enter")
        response = navigation.value
        if response is not None and response.status == 429:
            break
    return response


def _pages_checked(
    browser: Browser, base: str, visitor: list[Target], signed_in: list[Target], language: str
):
    source = axe_source()
    found: dict[str, list[str]] = {}
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale=LANGUAGES[language])
    try:
        page = context.new_page()
        for target in visitor:
            if target.name == "portal:login-token":
                _sign_in(page, base, TWO_FACTOR_EMAIL, lands_on=target.name)
            found[target.name] = _checked(page, base, target, source, language)
            screenshot(page, f"portal-axe-{language}-{target.name.removeprefix('portal:')}")
        _sign_in(page, base)
        for target in signed_in:
            if target.name == "locked-out":
                page = context.new_page()
                context.clear_cookies()
            found[target.name] = _checked(page, base, target, source, language)
            screenshot(page, f"portal-axe-{language}-{target.name.removeprefix('portal:')}")
    finally:
        context.close()
    return {name: problems for name, problems in found.items() if problems}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", list(LANGUAGES))
def test_no_portal_page_has_a_serious_accessibility_violation(live_server, settings, language):
    axe_source()  # skips before any work when axe-core is not installed
    settings.AXES_FAILURE_LIMIT = LOCK_AFTER
    visitor, signed_in = _targets(_merchant_with_everything())

    with chromium() as browser:
        failures = _pages_checked(browser, live_server.url, visitor, signed_in, language)

    assert not failures, f"{len(failures)} portal pages with problems in {language}:\n" + "\n".join(
        f"{name}: {problem}" for name, problems in failures.items() for problem in problems
    )
