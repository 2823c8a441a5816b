import pytest
from django.db import transaction

from loyalty.core.errors import Invalid
from perks.merchants.errors import RoleForbids
from perks.merchants.models import AuditEntry, WebhookDelivery, WebhookEvent
from perks.merchants.selectors import webhook_deliveries_of_merchant, webhook_endpoints_of_merchant
from perks.merchants.services import webhook_emit, webhook_endpoint_create, webhook_endpoint_update
from tests.factories import MerchantFactory, StaffFactory

pytestmark = pytest.mark.django_db

HTTPS = "https://pos.example.com/perkline"


def test_the_secret_is_returned_at_creation_and_kept_to_sign(merchant, owner):
    created = webhook_endpoint_create(
        merchant=merchant, actor=owner, url=HTTPS, event_types=["voucher.redeemed"]
    )

    assert created.secret.startswith("whsec_")
    assert created.endpoint.secret == created.secret
    assert created.endpoint.ref.startswith("whe_")
    assert AuditEntry.objects.filter(action="webhook_endpoint.created", target=created.endpoint.ref).exists()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://pos.example.com/hooks", "https"),
        ("https://10.0.0.5/hooks", "public"),
        ("https://192.168.1.20/hooks", "public"),
        ("https://169.254.169.254/latest", "public"),
        ("https://user:pass@pos.example.com/hooks", "credentials"),
        ("ftp://pos.example.com/hooks", "full URL"),
        ("not a url", "full URL"),
    ],
)
def test_unsafe_or_malformed_urls_are_refused(merchant, owner, url, reason):
    with pytest.raises(Invalid, match=reason) as refused:
        webhook_endpoint_create(merchant=merchant, actor=owner, url=url, event_types=["voucher.redeemed"])

    assert refused.value.param == "url"


def test_plain_http_to_this_machine_only_where_allowed(merchant, owner, settings):
    url = "http://127.0.0.1:8123/hooks"
    webhook_endpoint_create(merchant=merchant, actor=owner, url=url, event_types=["voucher.redeemed"])

    settings.WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(Invalid, match="this machine"):
        webhook_endpoint_create(merchant=merchant, actor=owner, url=url, event_types=["voucher.redeemed"])


def test_unknown_or_no_event_types_are_refused(merchant, owner):
    with pytest.raises(Invalid, match="Unknown event type"):
        webhook_endpoint_create(merchant=merchant, actor=owner, url=HTTPS, event_types=["member.viewed"])
    with pytest.raises(Invalid, match="at least one"):
        webhook_endpoint_create(merchant=merchant, actor=owner, url=HTTPS, event_types=[])


def test_a_manager_cannot_manage_webhooks(merchant, manager):
    with pytest.raises(RoleForbids):
        webhook_endpoint_create(merchant=merchant, actor=manager, url=HTTPS, event_types=["voucher.redeemed"])


def test_emit_writes_one_delivery_per_subscribed_active_endpoint(merchant, owner):
    redeemed = webhook_endpoint_create(
        merchant=merchant, actor=owner, url=HTTPS, event_types=["voucher.redeemed"]
    )
    webhook_endpoint_create(merchant=merchant, actor=owner, url=HTTPS + "/2", event_types=["voucher.issued"])
    both = webhook_endpoint_create(
        merchant=merchant, actor=owner, url=HTTPS + "/3", event_types=["voucher.issued", "voucher.redeemed"]
    )
    paused = webhook_endpoint_create(
        merchant=merchant, actor=owner, url=HTTPS + "/4", event_types=["voucher.redeemed"]
    )
    webhook_endpoint_update(endpoint=paused.endpoint, actor=owner, is_active=False)

    event = webhook_emit(merchant=merchant, type="voucher.redeemed", data={"voucher": "ABCD"})

    endpoints = set(WebhookDelivery.objects.filter(event=event).values_list("endpoint", flat=True))
    assert endpoints == {redeemed.endpoint.pk, both.endpoint.pk}
    assert event.ref.startswith("evt_")


def test_emit_belongs_to_the_callers_transaction(merchant, owner):
    webhook_endpoint_create(merchant=merchant, actor=owner, url=HTTPS, event_types=["voucher.redeemed"])

    def redeem_then_fail():
        with transaction.atomic():
            webhook_emit(merchant=merchant, type="voucher.redeemed", data={})
            raise RuntimeError("the redemption failed after all")

    with pytest.raises(RuntimeError):
        redeem_then_fail()

    assert not WebhookEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_emit_refuses_a_type_nobody_can_subscribe_to(merchant):
    with pytest.raises(Invalid):
        webhook_emit(merchant=merchant, type="voucher.teleported", data={})


def test_a_merchant_sees_only_its_own_endpoints_and_deliveries(merchant, owner):
    mine = webhook_endpoint_create(merchant=merchant, actor=owner, url=HTTPS, event_types=["voucher.issued"])
    other = MerchantFactory.create()
    other_owner = StaffFactory.create(merchant=other).user
    webhook_endpoint_create(merchant=other, actor=other_owner, url=HTTPS, event_types=["voucher.issued"])
    webhook_emit(merchant=merchant, type="voucher.issued", data={})
    webhook_emit(merchant=other, type="voucher.issued", data={})

    assert list(webhook_endpoints_of_merchant(merchant=merchant)) == [mine.endpoint]
    (delivery,) = webhook_deliveries_of_merchant(merchant=merchant)
    assert delivery.endpoint == mine.endpoint
    assert not webhook_deliveries_of_merchant(merchant=merchant, status="failed").exists()
