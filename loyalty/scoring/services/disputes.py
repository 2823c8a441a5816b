"""Disputes: a member contests a merchant's score event, as a credit file is contested.

The event stops counting as soon as it is disputed. The merchant hears of it
(`score_event.disputed`) and may stand by it with evidence; an operator then decides:
upheld, it counts again; overturned, it is removed. A dispute nobody resolves within
DISPUTE_DAYS is decided for the member (lapsed). The member is told of every step, the
merchant of the outcome (`score_event.resolved`), and every step writes a DisputeChange.

Status moves only by conditional UPDATE on the status it leaves, so a decision and the
lapse racing for one dispute decide it exactly once. Free text (the member's reason, the
merchant's evidence, the operator's note) stays on the dispute row, out of the append-only
history and out of the webhooks (the merchant reads the reason with GET /events/{id}), so
erasure can clear it in one place.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.core.events import merchant_notify
from loyalty.members.models import Member
from loyalty.members.services import NotificationInput, notifications_add
from loyalty.scoring.errors import (
    DisputeExists,
    DisputeNotConfirmed,
    DisputeNotOpen,
    EventNotDisputable,
    NotDisputed,
    ScoreEventNotFound,
)
from loyalty.scoring.models import (
    DISPUTE_DAYS,
    DISPUTE_OPEN_STATUSES,
    PLATFORM_SOURCE,
    Dispute,
    DisputeChange,
    DisputeStatus,
    EventStatus,
    RecomputeCause,
    ScoreEvent,
)
from loyalty.scoring.selectors import merchant_names_of_member
from loyalty.scoring.services.recompute import recompute_request

MEMBER = "member"
PLATFORM = "platform"
REASON_LENGTH = (10, 2000)
EVIDENCE_MAX_LENGTH = 2000
LAPSE_BATCH = 500
DISPUTED_WEBHOOK = "score_event.disputed"
RESOLVED_WEBHOOK = "score_event.resolved"


def dispute_open(*, member: Member, event_id: int, reason: str, now: datetime | None = None) -> Dispute:
    """The member says one of their events is wrong: it stops counting now, and its
    merchant has DISPUTE_DAYS to stand by it."""
    reason = reason.strip()
    low, high = REASON_LENGTH
    if not low <= len(reason) <= high:
        raise Invalid(f"Please explain in {low} to {high} characters.", param="reason")
    now = now or timezone.now()
    event = ScoreEvent.objects.filter(pk=event_id, member=member).select_related("member").first()
    if event is None:
        raise ScoreEventNotFound(param="event")
    if event.source == PLATFORM_SOURCE or event.cap:
        raise EventNotDisputable
    with transaction.atomic():
        try:
            with transaction.atomic():
                dispute = Dispute.objects.create(
                    event=event,
                    member=member,
                    merchant_ref=event.source,
                    reason=reason,
                    opened_at=now,
                    due_at=now + timedelta(days=DISPUTE_DAYS),
                )
        except IntegrityError as exc:
            raise DisputeExists(param="event") from exc
        _history([dispute], DisputeStatus.OPEN, MEMBER, now)
        recompute_request(member_ids=[member.pk], cause=RecomputeCause.EVENTS)
        merchant_notify(
            merchant_ref=event.source,
            type=DISPUTED_WEBHOOK,
            data={**_event_data(event), "due_at": dispute.due_at.isoformat()},
        )
        _tell([dispute], "dispute_opened")
    return dispute


def dispute_confirm(
    *, merchant_ref: str, external_id: str, evidence: str, now: datetime | None = None
) -> Dispute:
    """The merchant stands by its disputed event, with evidence; an operator decides. The
    event keeps not counting meanwhile."""
    evidence = evidence.strip()
    if not evidence or len(evidence) > EVIDENCE_MAX_LENGTH:
        raise Invalid(f"Give your evidence in 1 to {EVIDENCE_MAX_LENGTH} characters.", param="evidence")
    now = now or timezone.now()
    event = ScoreEvent.objects.filter(source=merchant_ref, external_id=external_id).first()
    if event is None:
        raise ScoreEventNotFound
    with transaction.atomic():
        confirmed = Dispute.objects.filter(event=event, status=DisputeStatus.OPEN).update(
            status=DisputeStatus.CONFIRMED, evidence=evidence, confirmed_at=now
        )
        if not confirmed:
            raise NotDisputed
        dispute = Dispute.objects.get(event=event)
        _history([dispute], DisputeStatus.CONFIRMED, merchant_ref, now)
        _tell([dispute], "dispute_confirmed")
    return dispute


def dispute_decide(
    *, dispute: Dispute, operator: AbstractBaseUser, upheld: bool, note: str, now: datetime | None = None
) -> Dispute:
    """An operator upholds the event (it counts again), which needs the merchant to have
    stood by it, or overturns it (it is removed for good)."""
    note = note.strip()
    if not note:
        raise Invalid("Say why, for the member and the merchant.", param="note")
    now = now or timezone.now()
    status = DisputeStatus.UPHELD if upheld else DisputeStatus.OVERTURNED
    leaving = [DisputeStatus.CONFIRMED] if upheld else list(DISPUTE_OPEN_STATUSES)
    with transaction.atomic():
        decided = Dispute.objects.filter(pk=dispute.pk, status__in=leaving).update(
            status=status, decided_at=now, decided_by=operator, decision_note=note
        )
        if not decided:
            current = Dispute.objects.get(pk=dispute.pk).status
            raise DisputeNotConfirmed if current == DisputeStatus.OPEN else DisputeNotOpen
        decided_dispute = Dispute.objects.select_related("event__member").get(pk=dispute.pk)
        _history([decided_dispute], status, f"operator:{operator.get_username()}", now)
        if upheld:
            recompute_request(member_ids=[decided_dispute.member_id], cause=RecomputeCause.EVENTS)
        _resolved([decided_dispute])
    return decided_dispute


def disputes_lapse(*, now: datetime | None = None) -> int:
    """Decide for the member every dispute still open at its due time (the beat runs this):
    the event is removed. Returns how many."""
    now = now or timezone.now()
    lapsed = 0
    while True:
        with transaction.atomic():
            due = list(
                Dispute.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status__in=DISPUTE_OPEN_STATUSES, due_at__lte=now)
                .order_by("pk")
                .values_list("pk", flat=True)[:LAPSE_BATCH]
            )
            if not due:
                return lapsed
            Dispute.objects.filter(pk__in=due, status__in=DISPUTE_OPEN_STATUSES).update(
                status=DisputeStatus.LAPSED, decided_at=now
            )
            disputes = list(Dispute.objects.filter(pk__in=due).select_related("event__member").order_by("pk"))
            _history(
                disputes, DisputeStatus.LAPSED, PLATFORM, now, f"Not resolved within {DISPUTE_DAYS} days."
            )
            _resolved(disputes)
            lapsed += len(disputes)


def _event_data(event: ScoreEvent) -> dict[str, object]:
    return {
        "id": event.external_id,
        "member": event.member.ref,
        "type": event.kind_id,
        "occurred_at": event.occurred_at.isoformat(),
    }


def _resolved(disputes: list[Dispute]) -> None:
    """Tell each dispute's merchant and member how it ended."""
    for dispute in disputes:
        merchant_notify(
            merchant_ref=dispute.merchant_ref,
            type=RESOLVED_WEBHOOK,
            data={
                **_event_data(dispute.event),
                "status": EventStatus.COUNTED
                if dispute.status == DisputeStatus.UPHELD
                else EventStatus.REMOVED,
                "outcome": dispute.status,
                "decided_at": dispute.decided_at.isoformat() if dispute.decided_at else None,
            },
        )
    for status in {dispute.status for dispute in disputes}:
        _tell([dispute for dispute in disputes if dispute.status == status], f"dispute_{status}")


def _history(
    disputes: Iterable[Dispute], status: DisputeStatus, actor: str, now: datetime, note: str = ""
) -> None:
    DisputeChange.objects.bulk_create(
        [
            DisputeChange(dispute_id=dispute.pk, status=status, actor=actor, note=note, at=now)
            for dispute in disputes
        ]
    )


def _tell(disputes: list[Dispute], kind: str) -> None:
    names = merchant_names_of_member(
        pairs=[(dispute.member_id, dispute.merchant_ref) for dispute in disputes]
    )
    notifications_add(
        items=[
            NotificationInput(
                dispute.member_id,
                kind,
                f"{kind}:{dispute.pk}",
                {
                    "merchant": names[(dispute.member_id, dispute.merchant_ref)],
                    "due": dispute.due_at.date().isoformat(),
                },
            )
            for dispute in disputes
        ]
    )
