"""Recording score events: bulk, idempotent per (source, external id), safe under concurrency.

One INSERT … ON CONFLICT DO NOTHING RETURNING claims a whole batch's keys in EventKey, and
one INSERT (sql.EVENTS_INSERT_NEW) stores the rows whose key was new, so a duplicate is
counted, never stored twice, and never fails the batch. Keys are claimed in (source,
external id) order, so two overlapping batches take their unique-index locks in the same
order and cannot deadlock.

A merchant's negative events are stamped with their cap (`caps.py`) as they are stored.
The standings of the members they name are locked first, in member order as the
recomputation locks them, so two batches about one member decide their caps one after
the other, each seeing what the other stored.
"""

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from loyalty.members.models import Member
from loyalty.scoring.caps import KnownEvent, NewEvent, caps_decide
from loyalty.scoring.engine import epoch_day
from loyalty.scoring.errors import ScoreEventInvalid
from loyalty.scoring.models import (
    DISPUTE_OPEN_STATUSES,
    PLATFORM_SOURCE,
    DisputeStatus,
    EventKey,
    EventKind,
    MemberStanding,
    RecomputeCause,
    ScoreEvent,
)
from loyalty.scoring.services.holds import OBLIGATION_REF_MAX, holds_lift_by_obligation
from loyalty.scoring.services.recompute import recompute_request
from loyalty.scoring.sql import EVENT_FIELDS, events_insert_new

MAX_EVENTS_PER_CALL = 1000
MAX_FUTURE_SKEW = timedelta(minutes=5)
MAX_EVENT_AGE = timedelta(days=3650)
OBLIGATION_SETTLED = "obligation_settled"
_MERCHANT_SOURCE = re.compile(r"^mch_[0-9a-z]{1,28}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class ScoreEventInput:
    external_id: str
    member_id: int
    kind: str
    occurred_at: datetime
    amount: Decimal | None = None
    currency: str | None = None
    # obligation_settled only: the obligation it settles (docs/scoring.md, "Inputs").
    obligation_ref: str | None = None


@dataclass(frozen=True)
class RecordResult:
    accepted: int
    duplicates: int
    member_ids: frozenset[int]
    holds_lifted: int
    capped: int = 0


def score_verification_record(*, member: Member, check: str, verified_at: datetime) -> RecordResult:
    """The platform's event for a verified email, phone or identity. Once a calendar year
    counts: a check repeated that year is a duplicate, while one renewed in a later year
    refreshes evidence that has decayed."""
    external_id = f"{check}_verified:{member.ref}:{verified_at:%Y}"
    return score_events_record(
        source=PLATFORM_SOURCE,
        events=[ScoreEventInput(external_id, member.pk, f"{check}_verified", verified_at)],
    )


def score_events_record(*, source: str, events: Sequence[ScoreEventInput]) -> RecordResult:
    """Store new events, count the rest as duplicates, queue the members for recomputation.

    `source` is a merchant ref (`mch_…`) or "platform". A merchant's negative event past one
    of its caps is stored with the cap and does not count. An accepted `obligation_settled`
    event from a merchant lifts that merchant's active hold on the member placed with the
    event's `obligation_ref`, or without one, its holds on the member that wait for a
    settlement and the one placed with the event's id as its obligation.
    """
    now = timezone.now()
    kinds = _validated(source, events, now)
    rows = [_row(source, event, kinds[event.kind], now) for event in events]
    with transaction.atomic():
        if source != PLATFORM_SOURCE:
            _caps_stamp(source, rows, now)
        rows.sort(key=lambda row: (row["source"], row["external_id"]))
        inserted = list(events_insert_new(rows))
        members = frozenset(member_id for member_id, _, _ in inserted)
        if members:
            recompute_request(member_ids=members, cause=RecomputeCause.EVENTS)
        settled = _settlements(events, inserted)
        lifted = holds_lift_by_obligation(merchant_ref=source, settlements=settled) if settled else 0
    return RecordResult(
        accepted=len(inserted),
        duplicates=len(events) - len(inserted),
        member_ids=members,
        holds_lifted=lifted,
        capped=sum(1 for row in rows if row["cap"]),
    )


def _settlements(
    events: Sequence[ScoreEventInput], inserted: list[tuple[int, str, str]]
) -> list[tuple[int, str | None]]:
    """What the new obligation_settled events settle: the obligation each names; one naming
    none settles the holds waiting for a settlement, and (as before obligation refs) the
    hold placed with the event's own id as its obligation."""
    obligations: dict[str, str | None] = {}
    for event in events:
        obligations.setdefault(event.external_id, event.obligation_ref)  # the first of an id is stored
    settled: list[tuple[int, str | None]] = []
    for member_id, kind, external_id in inserted:
        if kind == OBLIGATION_SETTLED:
            named = obligations[external_id]
            settled += [(member_id, named)] if named else [(member_id, None), (member_id, external_id)]
    return settled


def _caps_stamp(source: str, rows: list[dict[str, Any]], now: datetime) -> None:
    """Set `cap` on the new negative rows of the merchant `source` that are past a cap
    (caps.py), deciding them in the order the events happened; a repeat is left alone."""
    members = sorted({row["member"] for row in rows if row["impact"] < 0})
    if not members:
        return
    list(
        MemberStanding.objects.select_for_update(of=("self",))
        .filter(member_id__in=members)
        .order_by("member_id")
        .values_list("member_id", flat=True)
    )
    stored = set(
        ScoreEvent.objects.filter(
            source=source, external_id__in=[row["external_id"] for row in rows]
        ).values_list("external_id", flat=True)
    )
    new: dict[int, list[dict[str, Any]]] = {member_id: [] for member_id in members}
    for row in rows:
        if row["external_id"] in stored:
            continue
        stored.add(row["external_id"])  # the first of a repeated id is stored, the rest are duplicates
        if row["member"] in new:
            new[row["member"]].append(row)
    today = epoch_day(now)
    known, negatives_by_day = _cap_inputs(source, members)
    for member_id, member_rows in new.items():
        member_rows.sort(key=lambda row: (row["occurred_at"], row["external_id"]))
        caps = caps_decide(
            known=known[member_id],
            negatives_by_day=negatives_by_day[member_id],
            new=[NewEvent(row["dimension"], row["impact"], row["occurred_day"]) for row in member_rows],
            today=today,
        )
        for row, cap in zip(member_rows, caps, strict=True):
            row["cap"] = cap


def _cap_inputs(
    source: str, member_ids: list[int]
) -> tuple[dict[int, list[KnownEvent]], dict[int, dict[int, int]]]:
    """Per member: the events that count (and the merchant's negative ones under an open
    dispute, which may count again), and the merchant's negative events not capped, by day."""
    known: dict[int, list[KnownEvent]] = {member_id: [] for member_id in member_ids}
    negatives_by_day: dict[int, dict[int, int]] = {member_id: {} for member_id in member_ids}
    rows = (
        ScoreEvent.objects.filter(member_id__in=member_ids, cap="")
        .values_list(
            "member_id", "source", "dimension", "impact", "occurred_day", "recorded_at", "dispute__status"
        )
        .order_by()
    )
    for member_id, event_source, dimension, impact, occurred_day, recorded_at, dispute in rows:
        of_merchant = event_source == source
        if of_merchant and impact < 0:
            by_day = negatives_by_day[member_id]
            by_day[occurred_day] = by_day.get(occurred_day, 0) + 1
        counts_now = dispute in (None, DisputeStatus.UPHELD)
        if counts_now or (of_merchant and impact < 0 and dispute in DISPUTE_OPEN_STATUSES):
            known[member_id].append(
                KnownEvent(dimension, impact, occurred_day, epoch_day(recorded_at), of_merchant, counts_now)
            )
    return known, negatives_by_day


def _validated(source: str, events: Sequence[ScoreEventInput], now: datetime) -> dict[str, EventKind]:
    if source != PLATFORM_SOURCE and not _MERCHANT_SOURCE.match(source):
        raise ScoreEventInvalid("The source must be a merchant ref (mch_…) or 'platform'.", param="source")
    if len(events) > MAX_EVENTS_PER_CALL:
        raise ScoreEventInvalid(f"At most {MAX_EVENTS_PER_CALL} events a call.", param="events")
    kinds = EventKind.objects.in_bulk(field_name="code")
    for index, event in enumerate(events):
        _check_event(index, event, kinds, source, now)
    member_ids = {event.member_id for event in events}
    known = set(Member.objects.filter(pk__in=member_ids).values_list("pk", flat=True))
    for index, event in enumerate(events):
        if event.member_id not in known:
            raise ScoreEventInvalid("No such member.", param=f"events[{index}].member")
    return kinds


def _check_event(
    index: int, event: ScoreEventInput, kinds: dict[str, EventKind], source: str, now: datetime
) -> None:
    def invalid(field: str, message: str) -> ScoreEventInvalid:
        return ScoreEventInvalid(message, param=f"events[{index}].{field}")

    if not 1 <= len(event.external_id) <= 255:
        raise invalid("id", "An event id has 1 to 255 characters.")
    kind = kinds.get(event.kind)
    if kind is None or (source != PLATFORM_SOURCE and not kind.partner_reportable):
        raise invalid("type", f"Unknown event type {event.kind!r}.")
    if timezone.is_naive(event.occurred_at):
        raise invalid("occurred_at", "A time needs a timezone.")
    if not now - MAX_EVENT_AGE <= event.occurred_at <= now + MAX_FUTURE_SKEW:
        raise invalid("occurred_at", "An event must have happened, and within the last ten years.")
    if event.obligation_ref is not None and (
        kind.code != OBLIGATION_SETTLED or not 1 <= len(event.obligation_ref) <= OBLIGATION_REF_MAX
    ):
        raise invalid(
            "obligation_ref", "An obligation_settled event may name an obligation ref of 1 to 255 characters."
        )
    if (event.amount is None) != (not event.currency):
        raise invalid("amount", "An amount needs a currency, and a currency an amount.")
    if event.amount is not None:
        _check_amount(event.amount, event.currency or "", invalid)


def _check_amount(amount: Decimal, currency: str, invalid: Any) -> None:
    if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -4 or amount >= Decimal(10) ** 14:  # type: ignore[operator]
        raise invalid("amount", "An amount is a non-negative decimal with at most four decimal places.")
    if not _CURRENCY.match(currency):
        raise invalid("currency", "A currency is an ISO 4217 code such as CNY or EUR.")


def _row(source: str, event: ScoreEventInput, kind: EventKind, now: datetime) -> dict[str, Any]:
    return {
        "member": event.member_id,
        "source": source,
        "external_id": event.external_id,
        "kind": kind.code,
        "dimension": kind.dimension,
        "impact": kind.impact,
        "occurred_at": event.occurred_at,
        "occurred_day": epoch_day(event.occurred_at),
        "amount": event.amount,
        "currency": event.currency or "",
        "recorded_at": now,
        "cap": "",
    }


def _insert_new_one_by_one(rows: list[dict[str, Any]]) -> Iterator[tuple[int, str, str]]:
    """What `events_insert_new` does for a batch, through the ORM a row at a time: the form
    tests/loyalty/scoring/test_sql.py holds the statement to."""
    attnames = {field.name: field.attname for field in ScoreEvent._meta.concrete_fields}
    for row in rows:
        fields = {attnames[name]: row[name] for name in EVENT_FIELDS}
        key = {"source": fields.pop("source"), "external_id": fields.pop("external_id")}
        _, created = EventKey.objects.get_or_create(**key)
        if created:
            event = ScoreEvent.objects.create(**key, **fields)
            yield event.member_id, event.kind_id, event.external_id
