"""Holds: a merchant suspends its own perks of one category for one unresolved obligation.

Every step writes an audit row and tells the member; the steps the merchant did not take
itself (an appeal, an end it did not cause) reach it as webhooks, through the one domain
event the loyalty side has for that (`merchant_notify`). Status moves only by conditional
UPDATE (`WHERE status = 'active'`), so a lift, a settlement, an expiry and an appeal
decision racing for the same hold end it exactly once.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.core.events import merchant_notify
from loyalty.members.models import Member
from loyalty.members.services import NotificationInput, notifications_add
from loyalty.scoring.errors import AppealNotOpen, AppealOpen, HoldExists, HoldNotActive, HoldNotFound
from loyalty.scoring.models import (
    HOLD_MAX_DAYS,
    AppealStatus,
    Hold,
    HoldAction,
    HoldAppeal,
    HoldAuditEntry,
    HoldCategory,
    HoldEnd,
    HoldReason,
    HoldStatus,
)
from loyalty.scoring.selectors import (
    HOLD_ACTIVE,
    HOLD_EXPIRED,
    HOLD_LIFTED,
    HOLD_OVERTURNED,
)

SYSTEM = "system"
APPEAL_TEXT_LENGTH = (10, 2000)
HOLD_TEXT_MAX = 2000
OBLIGATION_REF_MAX = 255
EXPIRE_BATCH = 1000
LIFT_ON_CHOICES = ("", HoldEnd.OBLIGATION_SETTLED.value)


def hold_place(
    *,
    member: Member,
    merchant_ref: str,
    merchant_name: str,
    category: str,
    reason_code: str,
    expires_at: datetime,
    detail: str = "",
    evidence: str = "",
    lift_condition: str = "",
    lift_on: str = "",
    obligation_ref: str = "",
    now: datetime | None = None,
) -> Hold:
    """Place a hold and tell the member why, how to lift it and until when.

    `detail` (the merchant's account) or `evidence` must say what the matter is. Without
    `lift_condition`, the member is shown what the hold's terms mean (hold_lift_terms).
    `lift_on="obligation_settled"` lets a settlement naming no obligation lift it. A merchant
    has one active hold per obligation, and so one without an `obligation_ref` per member.
    """
    now = now or timezone.now()
    if not merchant_ref.startswith("mch_") or not merchant_name.strip():
        raise Invalid("A hold names the merchant that places it.", param="merchant_ref")
    _check_placement(category, reason_code, detail, evidence, lift_on, obligation_ref, expires_at, now)
    with transaction.atomic():
        try:
            with transaction.atomic():
                hold = Hold.objects.create(
                    member=member,
                    merchant_ref=merchant_ref,
                    merchant_name=merchant_name,
                    category=category,
                    reason_code=reason_code,
                    detail=detail.strip(),
                    evidence=evidence.strip(),
                    lift_condition=lift_condition.strip(),
                    lift_on=lift_on,
                    obligation_ref=obligation_ref.strip(),
                    placed_at=now,
                    expires_at=expires_at,
                )
        except IntegrityError as exc:
            raise HoldExists(_exists_message(obligation_ref), param="obligation_ref") from exc
        _audit([hold], HoldAction.PLACED, f"merchant {merchant_ref}", now)
        _tell([hold], "hold_placed")
    return hold


def hold_lift(*, hold: Hold, merchant_ref: str, note: str = "", now: datetime | None = None) -> Hold:
    """The merchant that placed the hold lifts it; to anyone else it does not exist."""
    if hold.merchant_ref != merchant_ref:
        raise HoldNotFound
    now = now or timezone.now()
    with transaction.atomic():
        if not _end(Hold.objects.filter(pk=hold.pk), HoldStatus.LIFTED, HoldEnd.MERCHANT, now):
            raise HoldNotActive
        _audit([hold], HoldAction.LIFTED, f"merchant {merchant_ref}", now, note)
        _close_appeals([hold.pk], now)
        _tell([hold], "hold_lifted")
        holds_announce([hold], "hold.resolved", HOLD_LIFTED)
    hold.refresh_from_db()
    return hold


def holds_lift_by_obligation(
    *, merchant_ref: str, settlements: Iterable[tuple[int, str | None]], now: datetime | None = None
) -> int:
    """Lift what the merchant's settlements, (member id, obligation ref or None), settle.

    A settlement naming an obligation lifts the merchant's active hold on the member placed
    with that `obligation_ref`; one naming none lifts the merchant's active holds on the
    member that wait for a settlement (`lift_on`). Returns how many holds were lifted.
    """
    now = now or timezone.now()
    named = Q()
    for member_id, obligation_ref in settlements:
        if obligation_ref:
            named |= Q(member_id=member_id, obligation_ref=obligation_ref)
        else:
            named |= Q(member_id=member_id, lift_on=HoldEnd.OBLIGATION_SETTLED)
    if not named:
        return 0
    with transaction.atomic():
        in_force = Hold.objects.filter(named, merchant_ref=merchant_ref, expires_at__gt=now)
        holds = list(_lock_active(in_force))
        if not holds:
            return 0
        _end(
            Hold.objects.filter(pk__in=[hold.pk for hold in holds]),
            HoldStatus.LIFTED,
            HoldEnd.OBLIGATION_SETTLED,
            now,
        )
        _audit(holds, HoldAction.LIFTED, SYSTEM, now, "The obligation was reported settled.")
        _close_appeals([hold.pk for hold in holds], now)
        _tell(holds, "hold_lifted")
        holds_announce(holds, "hold.resolved", HOLD_LIFTED)
    return len(holds)


def holds_expire(*, now: datetime | None = None) -> int:
    """End every active hold whose expiry has passed (the beat runs this); returns how many."""
    now = now or timezone.now()
    expired = 0
    while True:
        with transaction.atomic():
            holds = list(_lock_active(Hold.objects.filter(expires_at__lte=now))[:EXPIRE_BATCH])
            if not holds:
                return expired
            ids = [hold.pk for hold in holds]
            Hold.objects.filter(pk__in=ids).update(
                status=HoldStatus.EXPIRED, lifted_at=F("expires_at"), lifted_how=HoldEnd.EXPIRY
            )
            _audit(holds, HoldAction.EXPIRED, SYSTEM, now, "The hold reached its expiry.")
            _close_appeals(ids, now)
            _tell(holds, "hold_expired")
            holds_announce(holds, "hold.resolved", HOLD_EXPIRED)
            expired += len(holds)


def hold_appeal(*, hold: Hold, member: Member, text: str, now: datetime | None = None) -> HoldAppeal:
    """The member contests a hold of theirs; an operator decides (`hold_appeal_decide`), and
    the merchant hears of it at once."""
    if hold.member_id != member.pk:
        raise HoldNotFound
    text = text.strip()
    low, high = APPEAL_TEXT_LENGTH
    if not low <= len(text) <= high:
        raise Invalid(f"Please explain in {low} to {high} characters.", param="text")
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_active(Hold.objects.filter(pk=hold.pk)).first()
        if locked is None or locked.expires_at <= now:
            raise HoldNotActive
        if locked.appeals.filter(status=AppealStatus.OPEN).exists():
            raise AppealOpen
        appeal = HoldAppeal.objects.create(hold=locked, text=text, filed_at=now)
        _audit([locked], HoldAction.APPEAL_FILED, f"member {member.ref}", now)
        holds_announce([locked], "hold.appealed", HOLD_ACTIVE)
    return appeal


def hold_appeal_decide(
    *, appeal: HoldAppeal, operator: AbstractBaseUser, upheld: bool, note: str, now: datetime | None = None
) -> HoldAppeal:
    """An operator upholds the appeal (the hold is lifted) or rejects it (the hold stays)."""
    note = note.strip()
    if not note:
        raise Invalid("Say why, for the member and the merchant.", param="note")
    now = now or timezone.now()
    status = AppealStatus.UPHELD if upheld else AppealStatus.REJECTED
    actor = f"operator {operator.get_username()}"
    with transaction.atomic():
        decided = HoldAppeal.objects.filter(pk=appeal.pk, status=AppealStatus.OPEN).update(
            status=status, decided_at=now, decided_by=operator, decision_note=note
        )
        if not decided:
            raise AppealNotOpen
        hold = appeal.hold
        action = HoldAction.APPEAL_UPHELD if upheld else HoldAction.APPEAL_REJECTED
        _audit([hold], action, actor, now, note)
        if upheld and _end(Hold.objects.filter(pk=hold.pk), HoldStatus.LIFTED, HoldEnd.APPEAL, now):
            _audit([hold], HoldAction.LIFTED, actor, now, "Lifted on appeal.")
            holds_announce([hold], "hold.resolved", HOLD_OVERTURNED)
        _tell([hold], f"hold_appeal_{status}", suffix=f":{appeal.pk}")
    appeal.refresh_from_db()
    return appeal


def _check_placement(
    category: str,
    reason_code: str,
    detail: str,
    evidence: str,
    lift_on: str,
    obligation_ref: str,
    expires_at: datetime,
    now: datetime,
) -> None:
    if category not in HoldCategory.values:
        raise Invalid(f"Category is one of {', '.join(HoldCategory.values)}.", param="category")
    if reason_code not in HoldReason.values:
        raise Invalid(f"Reason is one of {', '.join(HoldReason.values)}.", param="reason_code")
    if not (detail.strip() or evidence.strip()):
        raise Invalid("Say what the matter is, so the member can understand and resolve it.", param="detail")
    for name, value in (("detail", detail), ("evidence", evidence)):
        if len(value.strip()) > HOLD_TEXT_MAX:
            raise Invalid(f"At most {HOLD_TEXT_MAX} characters.", param=name)
    if len(obligation_ref.strip()) > OBLIGATION_REF_MAX:
        raise Invalid(f"At most {OBLIGATION_REF_MAX} characters.", param="obligation_ref")
    if lift_on not in LIFT_ON_CHOICES:
        raise Invalid(f"lift_on is {HoldEnd.OBLIGATION_SETTLED.value} or nothing.", param="lift_on")
    if timezone.is_naive(expires_at) or not now < expires_at <= now + timedelta(days=HOLD_MAX_DAYS):
        raise Invalid(f"A hold expires in the future, within {HOLD_MAX_DAYS} days.", param="expires_at")


def _exists_message(obligation_ref: str) -> str:
    if obligation_ref.strip():
        return HoldExists.default_message
    return "This member already has an active hold of yours without an obligation_ref: name each obligation."


def _lock_active(holds: QuerySet[Hold]) -> QuerySet[Hold]:
    return holds.filter(status=HoldStatus.ACTIVE).select_for_update(of=("self",)).order_by("pk")


def _end(holds: QuerySet[Hold], status: HoldStatus, how: HoldEnd, now: datetime) -> int:
    return holds.filter(status=HoldStatus.ACTIVE, expires_at__gt=now).update(
        status=status, lifted_at=now, lifted_how=how
    )


def _close_appeals(hold_ids: list[int], now: datetime) -> None:
    HoldAppeal.objects.filter(hold_id__in=hold_ids, status=AppealStatus.OPEN).update(
        status=AppealStatus.CLOSED, decided_at=now, decision_note="The hold ended before a decision."
    )


def _audit(holds: Iterable[Hold], action: HoldAction, actor: str, now: datetime, note: str = "") -> None:
    HoldAuditEntry.objects.bulk_create(
        [HoldAuditEntry(hold_id=hold.pk, action=action, actor=actor, note=note, at=now) for hold in holds]
    )


def _tell(holds: Iterable[Hold], kind: str, suffix: str = "") -> None:
    """The member's notification; the terms a placement needs to be acted on travel with it."""
    notifications_add(
        items=[
            NotificationInput(
                hold.member_id,
                kind,
                f"{kind}:{hold.ref}{suffix}",
                {
                    "hold": hold.ref,
                    "merchant": hold.merchant_name,
                    "category": hold.category,
                    **(_terms(hold) if kind == "hold_placed" else {}),
                },
            )
            for hold in holds
        ]
    )


def _terms(hold: Hold) -> dict[str, str]:
    return {
        "reason_code": hold.reason_code,
        "lift_condition": hold.lift_condition,
        "lift_on": hold.lift_on,
        "obligation_ref": hold.obligation_ref,
        "expires_at": hold.expires_at.isoformat(),
    }


def holds_announce(holds: list[Hold], type: str, state: str) -> None:
    """Tell each hold's merchant, showing the hold as GET /holds/{id} does, now `state`."""
    ids = [hold.pk for hold in holds]
    members = dict(Member.objects.filter(holds__pk__in=ids).values_list("holds__pk", "ref"))
    latest: dict[int, HoldAppeal] = {}
    for appeal in HoldAppeal.objects.filter(hold_id__in=ids).order_by("filed_at", "id"):
        latest[appeal.hold_id] = appeal
    for hold in holds:
        merchant_notify(
            merchant_ref=hold.merchant_ref,
            type=type,
            data={
                "id": hold.ref,
                "member": members.get(hold.pk),
                "reason_code": hold.reason_code,
                "status": state,
                "expires_at": hold.expires_at.isoformat(),
                "appeal": _appeal_data(latest.get(hold.pk)),
            },
        )


def _appeal_data(appeal: HoldAppeal | None) -> dict[str, str | None] | None:
    if appeal is None:
        return None
    return {
        "status": appeal.status,
        "filed_at": appeal.filed_at.isoformat(),
        "decided_at": appeal.decided_at.isoformat() if appeal.decided_at else None,
    }
