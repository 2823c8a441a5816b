"""The client's address behind `TRUSTED_PROXY_COUNT` proxies, never what the client wrote."""

import pytest
from django.test import RequestFactory

from loyalty.core.clientip import client_ip

FORWARDED = "10.9.9.9, 198.51.100.7, 10.0.0.3"  # the client's own claim, then two proxies'


def request(forwarded: str = FORWARDED):
    return RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)


@pytest.mark.parametrize(("proxies", "expected"), [(0, "10.0.0.2"), (1, "10.0.0.3"), (2, "198.51.100.7")])
def test_the_address_each_count_of_proxies_vouches_for(settings, proxies, expected):
    settings.TRUSTED_PROXY_COUNT = proxies

    assert client_ip(request()) == expected


def test_a_request_that_did_not_pass_every_proxy_is_counted_by_its_peer(settings):
    settings.TRUSTED_PROXY_COUNT = 2

    assert client_ip(request("198.51.100.7")) == "10.0.0.2"
