"""API_RATE_LIMIT per key: 429 `rate_limited` with Retry-After, counted in Redis when there is one."""

import logging
import os

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from redis.connection import Connection

from surfaces.api.throttling import Rate, rate_parse
from tests.surfaces.api.conftest import BASE, assert_error, partner_of

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("REDIS_URL", "")
BACKENDS = [
    pytest.param("", id="memory"),
    pytest.param(
        REDIS_URL, id="redis", marks=pytest.mark.skipif(not REDIS_URL, reason="needs Redis: set REDIS_URL")
    ),
]
# The start of a minute far from the next one, so a test's requests share one window.
WINDOW_START = 1_900_000_020.0


@pytest.fixture(params=BACKENDS)
def limited(request, settings):
    settings.REDIS_URL = request.param
    settings.API_RATE_LIMIT = "3/min"
    with time_machine.travel(WINDOW_START, tick=False) as traveller:
        yield traveller


def test_past_the_rate_a_key_gets_429_with_retry_after(partner, limited):
    for _ in range(3):
        assert partner.get("/merchant").status_code == 200

    limited.shift(15)
    response = partner.get("/merchant")

    error = assert_error(response, 429, "rate_limited")
    assert error["type"] == "rate_limit"
    assert response["Retry-After"] == "45"


def test_writes_count_too_and_are_refused_unrun(partner, limited):
    for _ in range(3):
        partner.get("/perks")

    response = partner.post("/perks", {"type": "free_item", "title": "x", "params": {"item": "x"}})

    assert_error(response, 429, "rate_limited")
    assert not partner.merchant.perks.exists()


def test_the_next_window_starts_afresh(partner, limited):
    for _ in range(4):
        partner.get("/merchant")

    limited.shift(60)

    assert partner.get("/merchant").status_code == 200


def test_each_key_has_its_own_allowance(partner, limited):
    second = partner_of(partner.merchant)
    for _ in range(4):
        partner.get("/merchant")

    assert second.get("/merchant").status_code == 200
    assert partner.get("/merchant").status_code == 429


def test_requests_without_a_valid_key_are_not_counted_against_it(partner, limited):
    for _ in range(5):
        Client().get(f"{BASE}/merchant", headers={"Authorization": "Bearer pk_live_wrong"})

    assert partner.get("/merchant").status_code == 200


@pytest.mark.skipif(not REDIS_URL, reason="needs Redis: set REDIS_URL")
def test_counting_costs_one_redis_round_trip(partner, settings, monkeypatch):
    """Django's cache would cost more: django-ratelimit over it sends three commands and
    builds a redis client for two of them, some 1.9 M instructions a request, 30 % more on
    a redemption (bench/redeem_instructions.py); DRF's SimpleRateThrottle as much."""
    settings.REDIS_URL = REDIS_URL
    partner.get("/merchant")  # connect first: the pool's handshake is not per request
    sends = []
    original = Connection.send_packed_command

    def counting(self, command, check_health=True):
        sends.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    partner.get("/merchant")

    assert len(sends) == 1


def test_when_redis_is_down_requests_go_through_and_it_is_logged(partner, settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.API_RATE_LIMIT = "1/min"

    with caplog.at_level(logging.WARNING, logger="surfaces.api.throttling"):
        statuses = [partner.get("/merchant").status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    warnings = [record for record in caplog.records if record.name == "surfaces.api.throttling"]
    assert [record.levelno for record in warnings] == [logging.WARNING] * 3
    assert all("rate limit not applied" in record.getMessage() for record in warnings)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("6000/min", Rate(6000, 60)),
        ("10/s", Rate(10, 1)),
        ("10/second", Rate(10, 1)),
        ("500 / hour", Rate(500, 3600)),
        ("1/day", Rate(1, 86400)),
    ],
)
def test_rates_are_read_from_settings(text, rate):
    assert rate_parse(text) == rate


@pytest.mark.parametrize("text", ["", "6000", "0/min", "many/min", "10/fortnight", "-5/min"])
def test_a_malformed_rate_is_a_configuration_error(text):
    with pytest.raises(ImproperlyConfigured):
        rate_parse(text)
