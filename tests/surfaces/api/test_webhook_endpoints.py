"""POST /webhook-endpoints: the secret is in the 201 response, and nowhere else the API shows."""

import pytest

from perks.merchants.models import WebhookEndpoint
from surfaces.api.models import IdempotencyRecord
from tests.surfaces.api.conftest import assert_error

pytestmark = pytest.mark.django_db

ENDPOINT = {
    "url": "https://pos.example.com/perkline/webhooks",
    "events": ["voucher.redeemed", "voucher.issued"],
}


def test_an_endpoint_is_created_with_its_secret_shown_once(partner):
    response = partner.post("/webhook-endpoints", ENDPOINT)

    assert response.status_code == 201
    body = response.json()
    endpoint = WebhookEndpoint.objects.get(ref=body["id"])
    assert endpoint.merchant == partner.merchant
    assert body["url"] == ENDPOINT["url"]
    assert body["events"] == sorted(ENDPOINT["events"])
    assert body["secret"].startswith("whsec_")
    assert body["secret"] == endpoint.secret
    assert body["id"].startswith("whe_")


def test_only_the_201_carries_the_secret(partner):
    secret = partner.post("/webhook-endpoints", ENDPOINT).json()["secret"]

    for path in ("/merchant", "/perks"):
        assert secret not in partner.get(path).content.decode()


def test_a_replay_answers_the_same_but_never_shows_the_secret_again(partner):
    first = partner.post("/webhook-endpoints", ENDPOINT, idempotency_key="endpoint-1")
    again = partner.post("/webhook-endpoints", ENDPOINT, idempotency_key="endpoint-1")

    secret = first.json()["secret"]
    assert secret.startswith("whsec_")
    assert (first.status_code, again.status_code, again["Idempotent-Replayed"]) == (201, 201, "true")
    assert again.json() == {**first.json(), "secret": None}
    assert WebhookEndpoint.objects.filter(merchant=partner.merchant).count() == 1
    (kept,) = IdempotencyRecord.objects.filter(merchant=partner.merchant).values_list(
        "response_body", flat=True
    )
    assert secret not in kept


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**ENDPOINT, "url": "http://pos.example.com/hooks"}, "url"),
        ({**ENDPOINT, "url": "https://10.0.0.5/hooks"}, "url"),
        ({**ENDPOINT, "url": "not a url"}, "url"),
        ({**ENDPOINT, "events": []}, "events"),
        ({**ENDPOINT, "events": ["member.viewed"]}, "events[0]"),
        ({**ENDPOINT, "events": "voucher.redeemed"}, "events"),
        ({"url": ENDPOINT["url"]}, "events"),
        ({**ENDPOINT, "secret": "mine"}, "secret"),
    ],
)
def test_invalid_endpoints_are_refused_naming_the_field(partner, body, param):
    assert_error(partner.post("/webhook-endpoints", body), 400, "validation_error", param=param)
    assert not WebhookEndpoint.objects.exists()


def test_it_needs_the_webhooks_scope(read_only_partner):
    assert_error(read_only_partner.post("/webhook-endpoints", ENDPOINT), 403, "permission_denied")
