"""Redemptions waiting for their side effects, at merchants with 0 to 3 webhook endpoints, made
through the services, and every row their side effects write, in a form two runs can be
compared by (tests/perks/vouchers/test_sql.py, tests/perks/vouchers/test_side_effects.py)."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from loyalty.members.models import LookupPurpose, Member, MemberLookup, MerchantLink, Notification
from perks.catalog.models import Perk
from perks.merchants.models import Merchant, WebhookDelivery, WebhookEndpoint, WebhookEvent
from perks.merchants.permissions import Scope
from perks.merchants.services import api_key_create, webhook_endpoint_create
from perks.merchants.services.access import Actor
from perks.vouchers.models import Redemption, UsageRecord
from perks.vouchers.services import voucher_issue, voucher_redeem
from tests.factories import LocationFactory, MerchantFactory, PerkFactory, StaffFactory

SIDE_EFFECT_EVENTS = ("voucher.redeemed", "redemption.reversed")


@dataclass(frozen=True)
class Shop:
    merchant: Merchant
    owner: Any
    key: Actor
    perk: Perk
    endpoints: list[WebhookEndpoint]

    def redeem(self, member: Member, **options: Any) -> Redemption:
        """A voucher of the shop's perk given to `member`, redeemed at once."""
        voucher = voucher_issue(perk=self.perk, member=member, actor=self.owner)
        return voucher_redeem(merchant=self.merchant, actor=self.key, code=voucher.code, **options)


def shop(endpoints: int, *, url: str = "https://hooks.example.com/perkline", location: str = "") -> Shop:
    """A merchant with `endpoints` active endpoints subscribed to the side effects' events,
    and beside them one ended and one subscribed to something else, which get nothing."""
    merchant = MerchantFactory.create()
    owner = StaffFactory.create(merchant=merchant).user
    key = api_key_create(merchant=merchant, actor=owner, name="Till", scopes=Scope.values).key
    created = [
        webhook_endpoint_create(
            merchant=merchant, actor=owner, url=f"{url}/{i}", event_types=SIDE_EFFECT_EVENTS
        )
        for i in range(endpoints)
    ]
    ended = webhook_endpoint_create(
        merchant=merchant, actor=owner, url=f"{url}/ended", event_types=SIDE_EFFECT_EVENTS
    )
    WebhookEndpoint.objects.filter(pk=ended.endpoint.pk).update(is_active=False)
    webhook_endpoint_create(
        merchant=merchant, actor=owner, url=f"{url}/other", event_types=["voucher.revoked"]
    )
    if location:
        LocationFactory.create(merchant=merchant, code=location)
    perk = PerkFactory.create(merchant=merchant, title=f"Perk of {merchant.name}")
    return Shop(merchant, owner, key, perk, [c.endpoint for c in created])


def _seconds(delta: timedelta) -> int:
    return round(delta.total_seconds())


def side_effect_rows() -> dict[str, Any]:
    """Every row the side effects of redemptions and reversals write, without what differs
    between two runs by nature (ids, refs, the moment of writing), sorted."""
    events = {e.pk: e.data["redemption"] for e in WebhookEvent.objects.filter(type__in=SIDE_EFFECT_EVENTS)}
    return {
        "usage": sorted(
            UsageRecord.objects.values_list("redemption_id", "kind", "quantity", "merchant_id", "invoiced_at")
        ),
        "events": sorted(
            (e.data["redemption"], e.type, e.merchant_id, sorted(e.data.items()))
            for e in WebhookEvent.objects.filter(type__in=SIDE_EFFECT_EVENTS)
        ),
        "deliveries": sorted(
            (
                events[d.event_id],
                d.endpoint_id,
                d.status,
                d.attempt_count,
                d.completed_at,
                _seconds(d.deadline - d.created_at),
                _seconds(d.next_attempt_at - d.created_at),
                _seconds(d.dispatched_at - d.created_at),
            )
            for d in WebhookDelivery.objects.filter(event_id__in=events)
        ),
        "lookups": sorted(
            MemberLookup.objects.filter(purpose=LookupPurpose.REDEMPTION).values_list(
                "member_id", "merchant_ref", "merchant_name", "purpose", "looked_up_at"
            )
        ),
        "notifications": sorted(
            (n.dedupe_key, n.member_id, n.kind, sorted(n.params.items()), n.read_at)
            for n in Notification.objects.filter(kind="voucher_redeemed")
        ),
        "links": sorted(
            MerchantLink.objects.values_list(
                "member_id", "merchant_ref", "merchant_name", "started_by", "ended_at", "ended_by"
            )
        ),
        "due": sorted(Redemption.objects.filter(side_effects_at=None).values_list("pk", flat=True)),
    }


def side_effect_counts() -> dict[str, int]:
    return {name: len(rows) for name, rows in side_effect_rows().items()}
