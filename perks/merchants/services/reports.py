"""Events a merchant reports about its members: into scoring, and purchases into points.

Only a merchant a member is linked with may report about them: an event naming anyone
else (a member without an active link, or a ref naming nobody) is refused with one code,
`member_not_linked`, so no key learns who exists, and is not stored. One transaction for
the rest of the batch: score events are stored (a repeat of an id counts as a duplicate;
negative ones past the merchant's caps are stored capped), and purchases with an amount
earn points once per id. The loyalty side names the merchant only by its ref, name and
category, as it always does.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from loyalty.core.errors import Invalid
from loyalty.members.selectors import linked_member_ids_by_ref
from loyalty.points.services import Purchase, points_earn_purchases
from loyalty.scoring.models import Dispute
from loyalty.scoring.services import ScoreEventInput, dispute_confirm, score_events_record
from perks.merchants.models import Merchant
from perks.merchants.permissions import Permission
from perks.merchants.services.access import Actor, actor_require

PURCHASE = "purchase"
MEMBER_NOT_LINKED = "member_not_linked"
# Points name a purchase's fields as its own; a partner knows them as fields of its event.
_PURCHASE_PARAM = re.compile(r"^purchases\[(\d+)\]\.(\w+)$")
_EVENT_PARAM = re.compile(r"^events\[(\d+)\](.*)$")
_EVENT_FIELD_OF_PURCHASE = {"external_id": "id"}


@dataclass(frozen=True)
class PartnerEvent:
    id: str
    member: str  # the member's ref
    type: str
    occurred_at: datetime
    amount: Decimal | None = None
    currency: str | None = None
    obligation_ref: str | None = None


@dataclass(frozen=True)
class EventRefused:
    index: int  # the event's position in the batch
    code: str


@dataclass(frozen=True)
class EventsRecorded:
    accepted: int
    duplicates: int
    points_earned: int
    refused: tuple[EventRefused, ...] = ()


def partner_events_record(
    *, merchant: Merchant, actor: Actor, events: Sequence[PartnerEvent]
) -> EventsRecorded:
    """Record `events` from `merchant`; an event about a member not linked with it is
    refused (`member_not_linked`) and the others are recorded."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.EVENTS_RECORD)
    member_ids = linked_member_ids_by_ref(refs=(event.member for event in events), merchant_ref=merchant.ref)
    refused = tuple(
        EventRefused(index, MEMBER_NOT_LINKED)
        for index, event in enumerate(events)
        if event.member not in member_ids
    )
    kept = [(index, event) for index, event in enumerate(events) if event.member in member_ids]
    purchases = [
        (index, event) for index, event in kept if event.type == PURCHASE and event.amount is not None
    ]
    with transaction.atomic():
        try:
            recorded = score_events_record(
                source=merchant.ref,
                events=[
                    ScoreEventInput(
                        external_id=event.id,
                        member_id=member_ids[event.member],
                        kind=event.type,
                        occurred_at=event.occurred_at,
                        amount=event.amount,
                        currency=event.currency,
                        obligation_ref=event.obligation_ref,
                    )
                    for _, event in kept
                ],
            )
        except Invalid as exc:
            raise Invalid(exc.message, param=_batch_param(exc.param, kept)) from exc
        earned = _earn(merchant, member_ids, purchases) if purchases else 0
    return EventsRecorded(
        accepted=recorded.accepted, duplicates=recorded.duplicates, points_earned=earned, refused=refused
    )


def merchant_event_confirm(*, merchant: Merchant, actor: Actor, event_id: str, evidence: str) -> Dispute:
    """The merchant stands by its event `event_id` (its own id), which its member disputed:
    the evidence goes to the platform's operators, who decide."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.EVENTS_RECORD)
    return dispute_confirm(merchant_ref=merchant.ref, external_id=event_id, evidence=evidence)


def _earn(merchant: Merchant, member_ids: dict[str, int], purchases: list[tuple[int, PartnerEvent]]) -> int:
    try:
        result = points_earn_purchases(
            merchant_ref=merchant.ref,
            merchant_name=merchant.name,
            merchant_category=merchant.category,
            purchases=[
                Purchase(
                    external_id=event.id,
                    member_id=member_ids[event.member],
                    amount=event.amount or Decimal(0),
                    currency=event.currency or "",
                    occurred_at=event.occurred_at,
                )
                for _, event in purchases
            ],
        )
    except Invalid as exc:
        raise Invalid(exc.message, param=_event_param(exc.param, purchases)) from exc
    return result.points


def _batch_param(param: str | None, kept: list[tuple[int, PartnerEvent]]) -> str | None:
    """`events[2].type` of the events recorded → `events[5].type`: where the partner put it."""
    match = _EVENT_PARAM.match(param or "")
    if match is None:
        return param
    return f"events[{kept[int(match.group(1))][0]}]{match.group(2)}"


def _event_param(param: str | None, purchases: list[tuple[int, PartnerEvent]]) -> str | None:
    """`purchases[2].external_id` → `events[7].id`: where the partner put it."""
    match = _PURCHASE_PARAM.match(param or "")
    if match is None:
        return param
    index, field = purchases[int(match.group(1))][0], match.group(2)
    return f"events[{index}].{_EVENT_FIELD_OF_PURCHASE.get(field, field)}"
