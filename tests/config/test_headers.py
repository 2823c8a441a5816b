"""The security headers every answer carries: a Content-Security-Policy without inline code
on every HTML page (found by following the links each kind of visitor sees, from the
member's app to the operator console), templates that need no inline code, a
Permissions-Policy with every powerful feature off, and Stripe's origins on the pages with
a card form only."""

import html
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import Resolver404, resolve, reverse

from loyalty.core.headers import permissions_policy
from perks.billing.stripe_client import stripe_csp_sources
from perks.merchants.permissions import Role
from perks.vouchers.campaigns.services import campaign_create
from tests.factories import (
    HoldFactory,
    JoinedMemberFactory,
    LocationFactory,
    PerkFactory,
    StaffFactory,
    VoucherFactory,
)
from tests.support.billing import deposit_asked
from tests.support.links import linked

pytestmark = pytest.mark.django_db

CSP = "Content-Security-Policy"
TEMPLATES = Path(settings.BASE_DIR) / "templates"
_LINK = re.compile(r"""href=["'](/[^"'#]*)""")
_NOT_PAGES = ("/static/", "/media/")
# Inline code in a template: a <script> without src, a <style> element or attribute, an
# event handler attribute (htmx's hx-on included), a javascript: URL.
_INLINE = {
    "inline <script>": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "<style>": re.compile(r"<style\b", re.IGNORECASE),
    "style= attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "on…= handler": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "hx-on handler": re.compile(r"\bhx-on", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}
_COMMENTS = re.compile(r"{#.*?#}|{% comment %}.*?{% endcomment %}", re.DOTALL)


@pytest.fixture
def merchant():
    return LocationFactory.create().merchant


@pytest.fixture
def owner(merchant):
    """The merchant's owner, with a campaign under way, so that its page is linked too."""
    staff = StaffFactory.create(merchant=merchant, role=Role.OWNER)
    campaign_create(
        merchant=merchant, actor=staff.user, perk=PerkFactory.create(merchant=merchant), min_score=350
    )
    return staff.user


@pytest.fixture
def member(merchant):
    """A member with something on every page of the app: a voucher, a hold, a link."""
    member = JoinedMemberFactory.create()
    linked(member, merchant)
    VoucherFactory.create(member=member, perk=PerkFactory.create(merchant=merchant))
    HoldFactory.create(member=member, merchant_ref=merchant.ref)
    return member


def crawl(client: Client, seeds: Iterable[str], depth: int) -> dict[str, Any]:
    """Every page of this site reached from `seeds` in at most `depth` links or redirects
    (queries left off, so each page is fetched once), with its response."""
    seen: dict[str, Any] = {}
    frontier = list(seeds)
    for _ in range(depth + 1):
        found: list[str] = []
        for path in frontier:
            if path in seen:
                continue
            response = seen[path] = client.get(path)
            found.extend(_links(response))
        frontier = [
            path for path in dict.fromkeys(found) if path not in seen and not path.startswith(_NOT_PAGES)
        ]
    return seen


def _links(response) -> list[str]:
    if response.status_code in (301, 302) and response["Location"].startswith("/"):
        return [response["Location"].split("?")[0]]
    if not _is_html(response):
        return []
    return [html.unescape(link).split("?")[0] for link in _LINK.findall(response.content.decode())]


def _is_html(response) -> bool:
    return response.get("Content-Type", "").startswith("text/html") and not response.streaming


def _view_names(paths: Iterable[str]) -> set[str]:
    names = set()
    for path in paths:
        try:
            names.add(resolve(path).view_name)
        except Resolver404:
            continue
    return names


def _pages_without_a_strict_policy(pages: dict[str, Any]) -> dict[str, str]:
    """Each HTML page whose policy is missing or allows inline code or eval."""
    return {
        path: response.get(CSP, "(none)")
        for path, response in pages.items()
        if _is_html(response)
        and (CSP not in response or "unsafe-inline" in response[CSP] or "unsafe-eval" in response[CSP])
    }


@pytest.mark.parametrize(
    ("visitor", "seeds", "depth", "must_reach"),
    [
        (
            "anonymous",
            ["/", "/app/login/", "/portal/login/", "/admin/login/", "/api/docs/"],
            1,
            {"home", "app:login", "portal:login", "admin:login", "api-docs"},
        ),
        (
            "member",
            ["/app/"],
            2,
            {"app:home", "app:perks", "app:wallet", "app:voucher", "app:pass", "app:holds", "app:deposits"},
        ),
        (
            "owner",
            ["/portal/"],
            3,
            {
                "portal:dashboard",
                "portal:counter",
                "portal:keys",
                "portal:campaign",
                "portal:hold",
                "portal:billing",
            },
        ),
        ("operator", ["/admin/"], 2, {"admin:index", "admin:vouchers_voucher_changelist"}),
    ],
)
def test_every_html_page_has_a_policy_without_inline_code(
    client, admin_client, owner, member, visitor, seeds, depth, must_reach
):
    if visitor == "member":
        client.force_login(member.user)
    elif visitor == "owner":
        client.force_login(owner)
    pages = crawl(admin_client if visitor == "operator" else client, seeds, depth)

    assert must_reach <= _view_names(pages), "the crawl did not reach the pages it must"
    assert _pages_without_a_strict_policy(pages) == {}


def test_error_pages_have_the_policy_too(client, settings):
    settings.DEBUG = False  # in debug, django-csp leaves Django's debug 404 page alone

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "script-src 'self'" in response[CSP]


def test_no_template_holds_inline_code():
    found = [
        f"{template.relative_to(TEMPLATES)}: {what}"
        for template in sorted(TEMPLATES.rglob("*.html"))
        for what, pattern in _INLINE.items()
        if pattern.search(_COMMENTS.sub("", template.read_text()))
    ]

    assert found == []


def test_every_answer_turns_the_powerful_features_off(client, member):
    expected = permissions_policy(settings.PERMISSIONS_POLICY)
    client.force_login(member.user)

    answers = [
        client.get(reverse("app:wallet")),  # a page
        client.get("/app/no-such-page/"),  # a 404
        client.get(reverse("app:home").rstrip("/")),  # a redirect
        Client().get(reverse("api-merchant")),  # the API, refused
        Client().get(reverse("healthz")),
    ]

    assert [answer.get("Permissions-Policy") for answer in answers] == [expected] * len(answers)
    assert "camera=()" in expected
    assert "geolocation=()" in expected


def test_only_pages_with_a_card_form_allow_the_stripe_the_server_talks_to(
    client, stripe_on, merchant, member
):
    deposit_asked(merchant, member)
    client.force_login(member.user)

    deposits = client.get(reverse("app:deposits"))[CSP]
    wallet = client.get(reverse("app:wallet"))[CSP]

    directives = dict(part.strip().split(" ", 1) for part in deposits.split(";"))
    for directive in ("script-src", "frame-src", "connect-src"):
        assert stripe_on.url in directives[directive].split()
    assert stripe_on.url not in wallet
    assert "https://js.stripe.com" not in deposits


def test_with_stripe_off_the_card_pages_allow_no_other_origin(client, member):
    client.force_login(member.user)

    policy = client.get(reverse("app:deposits"))[CSP]

    assert "http" not in policy


def test_stripes_own_origins_are_those_stripe_documents(settings):
    settings.STRIPE_SECRET_KEY, settings.STRIPE_PUBLISHABLE_KEY = "sk_test_x", "pk_test_x"
    settings.STRIPE_API_BASE = "https://api.stripe.com"

    assert stripe_csp_sources() == {
        "script-src": ["https://js.stripe.com", "https://*.js.stripe.com"],
        "frame-src": ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"],
        "connect-src": ["https://api.stripe.com"],
    }
