"""One form style across the portal (templates/forms/, static/css/perkline.css): a checkbox
sits on the line of its label, not centred above it; text fields fill their column; a
refused field says why beside itself and is marked invalid for assistive technology; the
keyboard's focus is always visible. Seen at 1280 by 800, as the merchants' staff use it."""

import re
from collections.abc import Iterator

import pytest
from django import forms
from django.db import connections
from django.urls import reverse
from playwright.sync_api import Page

from perks.merchants.permissions import Role
from tests.factories import StaffFactory, UserFactory
from tests.support.browser import chromium, screenshot, sign_in

PASSWORD = "correct horse battery staple"
EMAIL = "owner@example.test"

# Each checkbox's box and the box of its label's words, as the browser lays them out.
CHECKBOXES_AND_LABELS = """() => [...document.querySelectorAll("main input[type=checkbox]")].map(box => {
    const label = box.labels[0];
    const words = document.createRange();
    const text = [...label.childNodes].filter(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    words.setStartBefore(text[0]);
    words.setEndAfter(text[text.length - 1]);
    const r = box.getBoundingClientRect(), t = words.getBoundingClientRect();
    return {name: label.textContent.trim(), box: [r.left, r.top, r.right, r.bottom],
            text: [t.left, t.top, t.right, t.bottom]};
})"""


@pytest.fixture
def wide_page(live_server, monkeypatch) -> Iterator[Page]:
    """Chromium at 1280 by 800, signed in as a merchant's owner; `page.slug` names the merchant."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # see tests/conftest.py browser_page
    owner = StaffFactory.create(role=Role.OWNER, user=UserFactory.create(email=EMAIL))
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
        page = context.new_page()
        sign_in(page, f"{live_server.url}{reverse('portal:login')}", EMAIL, PASSWORD)
        page.wait_for_url(re.compile(r"/portal/[\w-]+/$"))
        page.base = live_server.url  # type: ignore[attr-defined]
        page.slug = owner.merchant.slug  # type: ignore[attr-defined]
        yield page
        context.close()
        connections.close_all()


def _open(page: Page, name: str) -> None:
    page.goto(f"{page.base}{reverse(name, args=[page.slug])}")  # type: ignore[attr-defined]


def _checkboxes_beside_their_labels(page: Page) -> list[dict]:
    found = page.evaluate(CHECKBOXES_AND_LABELS)
    assert found, "no checkbox on the page"
    for item in found:
        _box_left, box_top, box_right, box_bottom = item["box"]
        text_left, text_top, _right, text_bottom = item["text"]
        middle = (box_top + box_bottom) / 2
        assert text_left >= box_right, f"{item['name']!r}: its words do not start right of the box"
        assert text_left - box_right < 24, f"{item['name']!r}: its words are far from the box"
        assert text_top <= middle <= text_bottom, f"{item['name']!r}: the box is not on the words' line"
    return found


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_checkboxes_sit_on_the_line_of_their_label(wide_page):
    _open(wide_page, "portal:keys")  # a group of checkboxes (the key's scopes)
    screenshot(wide_page, "portal-form-style-keys")
    assert len(_checkboxes_beside_their_labels(wide_page)) >= 2

    _open(wide_page, "portal:webhooks")
    _checkboxes_beside_their_labels(wide_page)

    _open(wide_page, "portal:holds")  # a single checkbox, the template's own line
    screenshot(wide_page, "portal-form-style-holds")
    _checkboxes_beside_their_labels(wide_page)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_text_fields_fill_their_column_and_a_refused_one_says_why_beside_itself(wide_page):
    _open(wide_page, "portal:webhooks")
    url = wide_page.get_by_label("URL")
    form = wide_page.locator("main form", has=url)
    assert url.bounding_box()["width"] >= form.bounding_box()["width"] - 2

    url.fill("not a web address")
    form.evaluate("f => { f.noValidate = true; }")  # the server's refusal is the one under test
    form.get_by_role("button", name="Add endpoint").click()

    url = wide_page.get_by_label("URL")
    assert url.get_attribute("aria-invalid") == "true"
    message = wide_page.locator(f"#{url.get_attribute('aria-describedby')}")
    assert "valid URL" in message.inner_text()
    url_box, message_box = url.bounding_box(), message.bounding_box()
    gap = message_box["y"] - (url_box["y"] + url_box["height"])
    assert 0 <= gap < 16, "the message is not right under the field"
    border = url.evaluate("e => getComputedStyle(e).borderTopColor")
    assert border == "rgb(180, 35, 24)", "a refused field's border is not the danger colour"
    screenshot(wide_page, "portal-form-style-error")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_keyboards_focus_is_visible_on_fields_and_buttons(wide_page):
    _open(wide_page, "portal:keys")
    name = wide_page.get_by_label("Name")
    name.focus()
    for _step in range(8):
        focused = wide_page.evaluate(
            "() => { const e = document.activeElement, s = getComputedStyle(e);"
            " return {tag: e.tagName, outline: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"
        )
        assert focused["outline"] != "none", focused
        assert focused["width"] >= 2, focused
        wide_page.keyboard.press("Tab")


class _Sample(forms.Form):
    name = forms.CharField(label="Name", help_text="Where the key is used.")
    events = forms.MultipleChoiceField(
        label="Events", choices=[("a", "A"), ("b", "B")], widget=forms.CheckboxSelectMultiple
    )
    agree = forms.BooleanField(label="I agree")


def _tag(html: str, pattern: str) -> str:
    found = re.search(pattern, html, re.S)
    assert found, f"nothing like {pattern!r} in:\n{html}"
    return found[0]


def test_every_form_lays_out_a_field_its_help_and_its_errors_the_same_way():
    html = str(_Sample({"agree": ""}))

    label = html.index('<label for="id_name">Name</label>')
    help_ = html.index('<div class="help" id="id_name_helptext">Where the key is used.</div>')
    name = _tag(html, r'<input type="text" name="name"[^>]*>')
    error = html.index('<ul class="errorlist" id="id_name_error">')
    assert label < help_ < html.index(name) < error, "label, help, input, then its errors"
    assert 'aria-invalid="true"' in name
    assert 'aria-describedby="id_name_helptext id_name_error"' in name

    group = _tag(html, r"<fieldset[^>]*>\s*<legend>Events</legend>.*?</fieldset>")
    assert 'aria-describedby="id_events_error"' in group
    assert 'id="id_events_error"' in group

    line = _tag(html, r'<div class="check-line">.*?</div>')
    assert line.index("<input") < line.index('<label for="id_agree">I agree</label>'), "box, then label"
    assert re.search(r'<div class="field check[" ]', html), "the single checkbox's field is marked .check"
