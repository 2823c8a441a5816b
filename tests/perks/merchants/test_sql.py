"""The merchants app's written-out statements (perks/merchants/sql.py) answer as the ORM
code each one replaces, on the same rows."""

from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from perks.merchants.models import ApiKey, MerchantStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from perks.merchants.permissions import Role, Scope
from perks.merchants.services import api_key_create, api_key_revoke, webhook_emit, webhook_endpoint_create
from perks.merchants.services.webhooks.delivery import WebhookEventInput, webhook_events_emit
from perks.merchants.sql import (
    DELIVERIES_INSERT,
    EVENTS_INSERT,
    KEY_BY_PREFIX,
    key_by_prefix,
    key_by_prefix_orm,
)
from tests.factories import MerchantFactory, StaffFactory
from tests.support.sql import executed, ran

pytestmark = pytest.mark.django_db


def values(obj: Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def key_and_merchant(key: ApiKey | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """What authentication reads of `key`, its merchant included (already loaded: no query)."""
    return None if key is None else (values(key), values(key.merchant))


def test_a_key_is_found_by_its_prefix_as_the_orm_finds_it(merchant, owner, django_assert_num_queries):
    live = api_key_create(merchant=merchant, actor=owner, name="Till 1", scopes=Scope.values).key
    ApiKey.objects.filter(pk=live.pk).update(last_used_at=timezone.now())
    revoked = api_key_create(merchant=merchant, actor=owner, name="Till 2", scopes=[]).key
    api_key_revoke(key=revoked, actor=owner)
    elsewhere = MerchantFactory.create()
    suspended = api_key_create(
        merchant=elsewhere,
        actor=StaffFactory.create(merchant=elsewhere, role=Role.OWNER).user,
        name="Elsewhere",
        scopes=[Scope.REDEMPTIONS_WRITE],
    ).key
    elsewhere.status = MerchantStatus.SUSPENDED
    elsewhere.save(update_fields=["status"])

    for prefix in (live.prefix, revoked.prefix, suspended.prefix, "000000000000"):
        with executed() as texts:
            written_out = key_by_prefix(prefix)
        assert ran(KEY_BY_PREFIX, texts)
        orm = key_by_prefix_orm(prefix)
        with django_assert_num_queries(0):
            assert key_and_merchant(written_out) == key_and_merchant(orm), prefix
    assert key_by_prefix(live.prefix) is not None


# EVENTS_INSERT and DELIVERIES_INSERT: a batch of events with their deliveries, against
# webhook_emit once an event.


def events_and_deliveries() -> tuple[list[Any], list[Any]]:
    """Every event and delivery, without ids, refs and the moment of writing."""
    events = {e.pk: (e.merchant_id, e.type, e.data) for e in WebhookEvent.objects.all()}
    deliveries = [
        (
            events[d.event_id],
            d.endpoint_id,
            d.status,
            d.attempt_count,
            d.completed_at,
            round((d.deadline - d.created_at).total_seconds()),
            round((d.next_attempt_at - d.created_at).total_seconds()),
            round((d.dispatched_at - d.created_at).total_seconds()),
        )
        for d in WebhookDelivery.objects.all()
    ]
    return sorted(events.values(), key=repr), sorted(deliveries, key=repr)


def test_a_batch_of_events_goes_in_as_one_webhook_emit_an_event_would():
    """Merchants with 0 to 3 subscribed endpoints, beside an ended one and one subscribed
    to another type, which get no delivery."""
    merchants = [MerchantFactory.create() for _ in range(4)]
    for count, merchant in enumerate(merchants):
        owner = StaffFactory.create(merchant=merchant, role=Role.OWNER).user
        for i in range(count + 1):
            webhook_endpoint_create(
                merchant=merchant,
                actor=owner,
                url=f"https://hooks.example.com/{i}",
                event_types=["voucher.redeemed"] if i < count else ["voucher.issued"],
            )
        if count == 1:
            ended = webhook_endpoint_create(
                merchant=merchant,
                actor=owner,
                url="https://hooks.example.com/ended",
                event_types=["voucher.redeemed"],
            )
            WebhookEndpoint.objects.filter(pk=ended.endpoint.pk).update(is_active=False)
    events = [
        WebhookEventInput(
            merchant.pk, {"n": n, "amount": Decimal("42.5000"), "at": timezone.now(), "none": None}
        )
        for n, merchant in enumerate([*merchants, merchants[3], merchants[0]])
    ]

    with executed() as texts:
        set_based = undone(
            lambda: webhook_events_emit(type="voucher.redeemed", events=events), events_and_deliveries
        )
    assert ran(EVENTS_INSERT, texts)
    assert ran(DELIVERIES_INSERT, texts)

    def one_by_one() -> int:
        merchant_of = {m.pk: m for m in merchants}
        emitted = [
            webhook_emit(merchant=merchant_of[e.merchant_id], type="voucher.redeemed", data=e.data)
            for e in events
        ]
        return WebhookDelivery.objects.filter(event__in=emitted).count()

    assert set_based == undone(one_by_one, events_and_deliveries)
    assert set_based[0] == 0 + 1 + 2 + 3 + 3 + 0


def undone(run: Any, read: Any) -> tuple[Any, Any]:
    """What `run` answers and what `read` finds after it, all of it then undone."""
    with transaction.atomic():
        answer = run()
        found = read()
        transaction.set_rollback(True)
    return answer, found
