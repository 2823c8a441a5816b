"""The member pass: a fresh QR code each time, a countdown to the next one the page can
show, words for screen readers, and a page that says it needs a connection."""

import re

import pytest
from django.urls import reverse

from loyalty.members.models import MemberPass

pytestmark = pytest.mark.django_db


def _fresh(client):
    return client.get(reverse("app:pass"), headers={"HX-Request": "true"}).content.decode()


def test_the_pass_is_a_qr_code_that_changes_each_time(signed_in, member):
    full = signed_in.get(reverse("app:pass")).content.decode()
    first, second = _fresh(signed_in), _fresh(signed_in)

    assert "<svg" in full
    assert first.strip().startswith('<div class="pass-qr" data-pass')
    assert "<html" not in first
    assert first != second, "each pass is a fresh token"
    assert MemberPass.objects.filter(member=member).count() == 3


def test_the_page_refreshes_halfway_through_each_codes_life_and_says_when(signed_in, settings):
    settings.MEMBER_PASS_TTL_SECONDS = 60

    full = signed_in.get(reverse("app:pass")).content.decode()

    assert 'hx-trigger="every 30s"' in full
    assert 'data-seconds-left="30"' in full
    assert 'data-valid-seconds="60"' in full
    assert re.search(r"New code in</span> <time data-pass-seconds datetime=\"PT30S\">30</time>", full)
    assert "js/app/pass.js" in full


def test_a_shorter_life_rotates_sooner(signed_in, settings):
    settings.MEMBER_PASS_TTL_SECONDS = 4

    fresh = _fresh(signed_in)

    assert 'data-seconds-left="2"' in fresh
    assert 'hx-trigger="every 2s"' in signed_in.get(reverse("app:pass")).content.decode()


def test_screen_readers_hear_what_the_code_is_and_when_it_changes(signed_in):
    fresh = _fresh(signed_in)

    assert 'role="img" aria-label="Member pass code, refreshes in 30 seconds"' in fresh
    assert 'class="pass-countdown" aria-hidden="true"' in fresh


def test_the_pass_page_needs_a_connection_and_has_one_heading(signed_in):
    full = signed_in.get(reverse("app:pass")).content.decode()

    assert re.search(r"<main[^>]*\sdata-needs-network[\s>]", full)
    assert full.count("<h1") == 1


def test_the_pass_is_kept_by_no_cache(signed_in):
    assert "no-store" in signed_in.get(reverse("app:pass"))["Cache-Control"]
    assert "no-store" in signed_in.get(reverse("app:pass"), headers={"HX-Request": "true"})["Cache-Control"]
