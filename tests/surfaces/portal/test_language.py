"""The portal's language: Accept-Language before any choice, the switch in the header (on
the sign-in page too) kept in the language cookie, `<html lang>` and Content-Language on
its pages, and a switch that only ever sends the person back to a page of this site."""

import re

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from perks.merchants.permissions import Role
from tests.factories import StaffFactory
from tests.support.browser import chromium, screenshot

pytestmark = pytest.mark.django_db

COOKIE = settings.LANGUAGE_COOKIE_NAME
HTML_LANG = re.compile(r'<html lang="([^"]*)"')
CHINESE = "zh-hans"


def in_chinese(text: str) -> str:
    with translation.override(CHINESE):
        translated = translation.gettext(text)
    assert translated != text, f"{text!r} has no Chinese translation to look for"
    return translated


def html_lang(response) -> str:
    match = HTML_LANG.search(response.content.decode())
    assert match, "the page has no <html lang>"
    return match[1]


@pytest.fixture
def owner(client):
    staff = StaffFactory.create(role=Role.OWNER)
    client.force_login(staff.user)
    return staff


@pytest.mark.parametrize(
    ("accept", "language", "heading"),
    [("zh-CN,zh;q=0.9,en;q=0.8", CHINESE, "Merchant portal"), ("en-GB,en;q=0.9", "en", "Merchant portal")],
)
def test_before_any_choice_the_browser_language_decides(client, accept, language, heading):
    response = client.get(reverse("portal:login"), HTTP_ACCEPT_LANGUAGE=accept)

    assert response.status_code == 200
    assert html_lang(response) == language
    assert response["Content-Language"] == language
    expected = in_chinese(heading) if language == CHINESE else heading
    assert f"<h1>{expected}</h1>" in response.content.decode()


def test_the_sign_in_page_offers_the_switch_each_language_by_its_own_name(client):
    page = client.get(reverse("portal:login")).content.decode()

    switch = re.search(r'<form[^>]*class="language-switch".*?</form>', page, re.S)
    assert switch, "no language switch on the sign-in page"
    assert f'action="{reverse("portal:language")}"' in switch[0]
    assert re.search(r'value="zh-hans" lang="zh-hans"[^>]*>简体中文</button>', switch[0])
    assert re.search(r'value="en" lang="en" aria-current="true">English</button>', switch[0])


def test_the_switch_keeps_the_choice_in_the_cookie_and_goes_back_to_the_page(client):
    login = reverse("portal:login")

    response = client.post(reverse("portal:language"), {"language": CHINESE, "next": login})

    assert response.status_code == 302
    assert response["Location"] == login
    cookie = response.cookies[COOKIE]
    assert cookie.value == CHINESE
    assert cookie["max-age"] == settings.LANGUAGE_COOKIE_AGE
    assert cookie["samesite"] == "Lax"
    page = client.get(login, HTTP_ACCEPT_LANGUAGE="en-GB")  # the choice wins over the browser's
    assert html_lang(page) == CHINESE
    assert page["Content-Language"] == CHINESE
    assert in_chinese("Sign in") in page.content.decode()


def test_a_signed_in_owner_switches_the_merchants_pages_to_chinese_and_back(client, owner):
    counter = reverse("portal:counter", args=[owner.merchant.slug])
    assert "Sign out" in client.get(counter).content.decode()

    client.post(reverse("portal:language"), {"language": CHINESE, "next": counter})
    page = client.get(counter)

    assert html_lang(page) == CHINESE
    body = page.content.decode()
    assert in_chinese("Sign out") in body
    assert in_chinese("Counter") in body
    assert "Sign out" not in body

    client.post(reverse("portal:language"), {"language": "en", "next": counter})
    assert html_lang(client.get(counter)) == "en"


@pytest.mark.parametrize("target", ["https://evil.example/portal/", "//evil.example/", "javascript:alert(1)"])
def test_the_switch_never_sends_anyone_off_the_site(client, target):
    response = client.post(reverse("portal:language"), {"language": "en", "next": target})

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")


@pytest.mark.parametrize("language", ["fr", "", "zh-hant"])
def test_a_language_not_offered_is_refused(client, language):
    response = client.post(reverse("portal:language"), {"language": language})

    assert response.status_code == 400
    assert COOKIE not in response.cookies


def test_the_switch_changes_nothing_on_a_get(client):
    assert client.get(reverse("portal:language"), {"language": CHINESE}).status_code == 405


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_the_switch_on_the_sign_in_page_turns_it_chinese_and_keeps_it(live_server):
    login = f"{live_server.url}{reverse('portal:login')}"
    heading = in_chinese("Merchant portal")

    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
        page = context.new_page()
        page.goto(login)
        page.get_by_role("button", name="简体中文").click()
        page.wait_for_url(login)
        chinese = page.get_by_role("heading", level=1).inner_text()
        lang = page.evaluate("document.documentElement.lang")
        current = page.get_by_role("button", name="简体中文").get_attribute("aria-current")
        screenshot(page, "portal-language-switch-zh")
        page.goto(login)  # a later visit, the browser still asking for English
        kept = page.get_by_role("heading", level=1).inner_text()
        context.close()

    assert (chinese, lang, current, kept) == (heading, CHINESE, "true", heading)
