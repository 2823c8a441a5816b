"""The app's language: Accept-Language before any choice, the switch (kept on the member and
in a cookie), the member's stored choice once signed in, `<html lang>` and Content-Language
on every page, and the app's mail in the member's language."""

import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core import mail
from django.db import connections
from django.urls import URLPattern, reverse
from django.utils import translation
from playwright.sync_api import Page, expect

from loyalty.members.models import Locale, Member
from surfaces.app import urls as app_urls
from tests.factories import JoinedMemberFactory, UserFactory
from tests.support.browser import chromium, screenshot, sign_in

PASSWORD = "correct horse battery staple"
COOKIE = settings.LANGUAGE_COOKIE_NAME
HTML_LANG = re.compile(r'<html lang="([^"]*)"')


def in_chinese(text: str) -> str:
    with translation.override(Locale.SIMPLIFIED_CHINESE):
        return translation.gettext(text)


def html_lang(response) -> str:
    match = HTML_LANG.search(response.content.decode())
    assert match, "the page has no <html lang>"
    return match[1]


@pytest.fixture
def member(db) -> Member:
    return JoinedMemberFactory.create(user=UserFactory.create(email="mei@example.test"))


def test_the_languages_offered_are_the_ones_a_member_can_store():
    assert {code for code, _ in settings.LANGUAGES} == set(Locale.values)


# --- Before sign-in --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept", "language"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-hans"),
        ("zh-Hans-CN", "zh-hans"),
        ("en-GB,en;q=0.9", "en"),
        ("fr-FR", "en"),
    ],
)
def test_before_any_choice_the_browser_language_decides(client, accept, language):
    response = client.get(reverse("app:login"), HTTP_ACCEPT_LANGUAGE=accept)

    assert response.status_code == 200
    assert html_lang(response) == language
    assert response["Content-Language"] == language
    assert "Accept-Language" in response["Vary"]


@pytest.mark.django_db
def test_the_sign_in_page_is_in_chinese_for_a_chinese_browser(client):
    response = client.get(reverse("app:login"), HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert f"<h1>{in_chinese('Sign in')}</h1>" in response.content.decode()
    assert in_chinese("Sign in") != "Sign in"


@pytest.mark.django_db
def test_a_chosen_language_wins_over_the_browsers(client):
    client.cookies[COOKIE] = "en"

    response = client.get(reverse("app:login"), HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert html_lang(response) == "en"
    assert response["Content-Language"] == "en"


@pytest.mark.django_db
def test_the_sign_in_page_offers_each_language_in_its_own_words(client):
    page = client.get(reverse("app:login"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()

    assert f'action="{reverse("app:language")}"' in page
    button = '<button type="submit" name="language" value="{0}" lang="{0}"{1}>{2}</button>'
    assert button.format("en", "", "English") in page
    assert button.format("zh-hans", ' aria-current="true"', "简体中文") in page


# --- The switch --------------------------------------------------------------------------


@pytest.mark.django_db
def test_switching_before_sign_in_sets_the_cookie_and_goes_back(client):
    back = reverse("app:login") + "?next=/app/wallet/"

    response = client.post(reverse("app:language"), {"language": "zh-hans", "next": back})

    assert response.status_code == 302
    assert response["Location"] == back
    cookie = response.cookies[COOKIE]
    assert cookie.value == "zh-hans"
    assert int(cookie["max-age"]) == settings.LANGUAGE_COOKIE_AGE
    assert cookie["samesite"] == "Lax"
    assert html_lang(client.get(back, HTTP_ACCEPT_LANGUAGE="en")) == "zh-hans"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "elsewhere", ["https://evil.example/app/", "//evil.example/", "", "javascript:alert(1)"]
)
def test_the_switch_goes_back_only_to_this_site(client, elsewhere):
    response = client.post(reverse("app:language"), {"language": "en", "next": elsewhere})

    assert response.status_code == 302
    assert response["Location"] == reverse("app:login")


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["fr", "zh", "zh-hant", "", "EN"])
def test_a_language_not_offered_is_refused(client, language):
    response = client.post(reverse("app:language"), {"language": language, "next": "/app/"})

    assert response.status_code == 400
    assert COOKIE not in response.cookies


@pytest.mark.django_db
def test_the_switch_takes_a_post_only(client):
    assert client.get(reverse("app:language"), {"language": "en"}).status_code == 405


def test_switching_when_signed_in_stores_it_on_the_member_and_in_the_cookie(client, member):
    client.force_login(member.user)

    response = client.post(reverse("app:language"), {"language": "zh-hans", "next": reverse("app:points")})

    assert response["Location"] == reverse("app:points")
    assert response.cookies[COOKIE].value == "zh-hans"
    member.refresh_from_db()
    assert member.locale == "zh-hans"
    page = client.get(reverse("app:points"), HTTP_ACCEPT_LANGUAGE="en")
    assert html_lang(page) == "zh-hans"
    assert page["Content-Language"] == "zh-hans"
    # The cookie and the member agree, so the page has nothing to correct.
    assert COOKIE not in page.cookies

    client.post(reverse("app:language"), {"language": "en", "next": reverse("app:points")})
    member.refresh_from_db()
    assert member.locale == "en"
    assert html_lang(client.get(reverse("app:points"))) == "en"


def test_a_switch_without_a_page_to_go_back_to_opens_the_app(client, member):
    client.force_login(member.user)

    response = client.post(reverse("app:language"), {"language": "en"})

    assert response["Location"] == reverse("app:home")


# --- Signed in: the member's stored choice -----------------------------------------------


def test_the_members_stored_language_wins_over_a_browser_that_says_otherwise(client, member):
    Member.objects.filter(pk=member.pk).update(locale="zh-hans")
    client.cookies[COOKIE] = "en"

    response = client.post(
        reverse("app:login"),
        {"username": "mei@example.test", "password": PASSWORD},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302
    page = client.get(reverse("app:points"), HTTP_ACCEPT_LANGUAGE="en")

    assert html_lang(page) == "zh-hans"
    assert page["Content-Language"] == "zh-hans"
    # The browser now follows the member, so the sign-in page after signing out does too.
    assert page.cookies[COOKIE].value == "zh-hans"
    client.post(reverse("app:logout"))
    assert html_lang(client.get(reverse("app:login"), HTTP_ACCEPT_LANGUAGE="en")) == "zh-hans"


def _pages() -> Iterator[str]:
    """Every page of the app reached without an argument in its address."""
    for pattern in app_urls.urlpatterns:
        if isinstance(pattern, URLPattern) and pattern.name and not pattern.pattern.converters:
            yield reverse(f"app:{pattern.name}")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_page_declares_its_language_in_html_and_in_its_headers(client, member, language):
    Member.objects.filter(pk=member.pk).update(locale=language)
    client.force_login(member.user)
    client.cookies[COOKIE] = language
    other = "en" if language == "zh-hans" else "zh-CN"

    checked = []
    for url in _pages():
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=other)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        assert html_lang(response) == language, url
        assert response["Content-Language"] == language, url
        checked.append(url)
    assert reverse("app:home") in checked
    assert len(checked) >= 10, checked


# --- Mail -----------------------------------------------------------------------------


@pytest.mark.parametrize(("stored", "browser"), [("zh-hans", "en"), ("en", "zh-CN")])
def test_the_password_reset_mail_is_in_the_members_language_not_the_pages(client, member, stored, browser):
    Member.objects.filter(pk=member.pk).update(locale=stored)

    client.post(reverse("app:password-reset"), {"email": "mei@example.test"}, HTTP_ACCEPT_LANGUAGE=browser)

    [message] = mail.outbox
    subject = "Choose a new Perkline password"
    opening = "Someone asked to choose a new password for the Perkline account of this e-mail address."
    with translation.override(stored):
        assert message.subject == translation.gettext(subject)
        assert message.body.startswith(translation.gettext(opening))
    assert (message.subject == subject) == (stored == "en")
    assert "/app/password-reset/" in message.body


@pytest.mark.django_db
def test_a_reset_for_an_account_that_is_not_a_member_is_in_the_pages_language(client):
    UserFactory.create(email="staff@example.test")

    client.post(reverse("app:password-reset"), {"email": "staff@example.test"}, HTTP_ACCEPT_LANGUAGE="zh-CN")

    [message] = mail.outbox
    assert message.subject == in_chinese("Choose a new Perkline password") != "Choose a new Perkline password"


# --- In a browser -------------------------------------------------------------------------


def _one_line(page: Page, selector: str) -> bool:
    """Whether the element's text sits on one line (a label wrapping one character per line would not)."""
    return page.eval_on_selector(
        selector,
        """element => {
            const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
            const tops = new Set();
            while (walker.nextNode()) {
                const range = document.createRange();
                range.selectNodeContents(walker.currentNode);
                for (const rect of range.getClientRects()) if (rect.width > 0) tops.add(Math.round(rect.top));
            }
            return tops.size === 1;
        }""",
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_chinese_browser_signs_in_in_english_then_switches_the_app_to_chinese(live_server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    member = JoinedMemberFactory.create(user=UserFactory.create(email="mei@example.test"))
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page = context.new_page()
        try:
            response = page.goto(f"{live_server.url}/app/login/")
            assert response is not None
            assert response.headers["content-language"] == "zh-hans"
            expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
            expect(page.get_by_role("heading", level=1)).to_have_text(in_chinese("Sign in"))
            screenshot(page, "language-sign-in-chinese")

            page.get_by_role("button", name="English").click()
            expect(page.locator("html")).to_have_attribute("lang", "en")
            expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
            assert {c["name"]: c["value"] for c in context.cookies()}[COOKIE] == "en"
            screenshot(page, "language-sign-in-english")

            sign_in(page, f"{live_server.url}/app/login/", "mei@example.test", PASSWORD)
            expect(page.locator("html")).to_have_attribute("lang", "en")
            page.goto(f"{live_server.url}/app/me/")
            page.get_by_role("button", name="简体中文").click()

            expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
            expect(page.get_by_role("button", name="简体中文")).to_have_attribute("aria-current", "true")
            member.refresh_from_db()
            assert member.locale == "zh-hans"
            assert {c["name"]: c["value"] for c in context.cookies()}[COOKIE] == "zh-hans"
            sign_out = page.get_by_role("button", name=in_chinese("Sign out"))
            expect(sign_out).to_be_visible()
            assert _one_line(page, "form.signout button"), "the sign-out label wraps"
            tabs = page.locator("nav.tabbar a")
            for index in range(tabs.count()):
                assert _one_line(page, f"nav.tabbar a:nth-of-type({index + 1})"), tabs.nth(index).inner_text()
            screenshot(page, "language-me-chinese")

            response = page.goto(f"{live_server.url}/app/wallet/")
            assert response is not None
            assert response.headers["content-language"] == "zh-hans"
            expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
            expect(page.get_by_role("link", name=in_chinese("Wallet"))).to_be_visible()
            screenshot(page, "language-wallet-chinese")
        finally:
            context.close()
            connections.close_all()
