"""Using a voucher at the counter: validate, reserve and release, redeem, reverse.

Every change of uses happens on the voucher's locked row (perks.vouchers.locks), checked
there, and written with F() under the same conditions, which the database's CHECK
(`uses_count <= uses_allowed - uses_reserved`) backs. Refusals are checked in the order a
cashier can act on: the voucher's own state, its uses, then the member's eligibility.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from loyalty.core.errors import DomainError, Invalid
from loyalty.core.sql import database, row_insert_after
from loyalty.members.models import LookupPurpose, Member
from loyalty.members.services import member_lookup_record
from loyalty.scoring.selectors import Standing, standing_from
from perks.catalog.eligibility import perk_refusal
from perks.catalog.money import purchase_parse
from perks.catalog.perk_benefit import Benefit, benefit_compute
from perks.merchants.audit import AuditAction
from perks.merchants.models import Merchant
from perks.merchants.permissions import Permission
from perks.merchants.selectors import location_by_code
from perks.merchants.services import Actor, actor_require, audit_record
from perks.vouchers.codes import UnknownCode, code_normalize
from perks.vouchers.errors import (
    AlreadyReversed,
    ReservationNotActive,
    ReservationNotFound,
    ReversalWindowClosed,
    VoucherAlreadyRedeemed,
    VoucherExpired,
    VoucherNotFound,
    VoucherNotYetValid,
    VoucherReserved,
    VoucherRevoked,
)
from perks.vouchers.locks import voucher_lock, voucher_lock_by_pk
from perks.vouchers.models import (
    Redemption,
    RedemptionChannel,
    RedemptionReversal,
    Reservation,
    ReservationStatus,
    Voucher,
    VoucherStatus,
)
from perks.vouchers.services.actors import actor_label
from perks.vouchers.services.side_effects import redemption_side_effects_nudge
from perks.vouchers.sql import USE_TAKE, USE_TAKE_HELD, voucher_for_use
from perks.vouchers.tasks import reversal_side_effects

TTL_SECONDS_MIN, TTL_SECONDS_MAX = 60, 3600
NOT_FOUND = "not_found"
# An offline till's clock may run a little ahead of ours.
OCCURRED_AT_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Validation:
    valid: bool
    reason: str | None
    voucher: Voucher | None
    benefit: Benefit | None


def voucher_validate(
    *,
    merchant: Merchant,
    code: str,
    location_code: str | None = None,
    amount: Decimal | str | None = None,
    currency: str | None = None,
) -> Validation:
    """Whether `code` could be redeemed at `merchant` now, and what it would give. Changes
    nothing but the member's look-up log."""
    purchase_parse(amount, currency)
    location_by_code(merchant=merchant, code=location_code)
    try:
        canonical = code_normalize(code)
    except UnknownCode:
        return Validation(valid=False, reason=NOT_FOUND, voucher=None, benefit=None)
    voucher = voucher_for_use(merchant=merchant, code=canonical, lock=False)
    if voucher is None:
        return Validation(valid=False, reason=NOT_FOUND, voucher=None, benefit=None)
    benefit = benefit_compute(
        perk=voucher.perk, amount=amount, currency=currency, uses_remaining=voucher.uses_remaining
    )
    refusal = _refusal(voucher, at=timezone.now(), holds_reservation=False)
    _lookup_record(voucher, LookupPurpose.VALIDATION)
    if refusal is not None:
        return Validation(valid=False, reason=refusal.code, voucher=voucher, benefit=None)
    return Validation(valid=True, reason=None, voucher=voucher, benefit=benefit)


def reservation_create(*, merchant: Merchant, actor: Actor, code: str, ttl_seconds: int = 900) -> Reservation:
    """Hold one use of the voucher for a checkout in progress, for `ttl_seconds`."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.REDEMPTIONS_CREATE)
    if type(ttl_seconds) is not int or not TTL_SECONDS_MIN <= ttl_seconds <= TTL_SECONDS_MAX:
        raise Invalid(
            f"ttl_seconds is a whole number from {TTL_SECONDS_MIN} to {TTL_SECONDS_MAX}.", param="ttl_seconds"
        )
    canonical = code_normalize(code)
    now = timezone.now()
    with transaction.atomic():
        voucher = _voucher_locked(merchant, canonical)
        _refuse_if_any(voucher, at=now, holds_reservation=False)
        held = Voucher.objects.filter(_room_left(), pk=voucher.pk).update(
            uses_reserved=F("uses_reserved") + 1
        )
        if not held:  # the lock makes this unreachable; the condition is the database's word
            raise VoucherReserved()
        reservation = Reservation.objects.create(
            voucher=voucher,
            merchant=merchant,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    return reservation


def reservation_release(*, merchant: Merchant, actor: Actor, reservation: Reservation) -> Reservation:
    """Give the held use back before its time runs out.

    Releasing one already released, or lapsed, changes nothing and is no error (the use is
    free either way, and a partner retrying its DELETE must not be told otherwise); one a
    redemption consumed cannot be released.
    """
    actor_require(actor=actor, merchant=merchant, permission=Permission.REDEMPTIONS_CREATE)
    if reservation.merchant_id != merchant.pk:
        raise ReservationNotFound(param="reservation")
    now = timezone.now()
    with transaction.atomic():
        voucher_lock_by_pk(reservation.voucher_id)
        _reservation_end(reservation, ReservationStatus.RELEASED, now)
        reservation.refresh_from_db()
    if reservation.status == ReservationStatus.CONSUMED:
        raise ReservationNotActive("This reservation was used by a redemption.", param="reservation")
    return reservation


def voucher_redeem(
    *,
    merchant: Merchant,
    actor: Actor,
    code: str,
    reservation: Reservation | None = None,
    location_code: str | None = None,
    amount: Decimal | str | None = None,
    currency: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    channel: str = RedemptionChannel.API,
    occurred_at: datetime | None = None,
) -> Redemption:
    """Use the voucher once (consuming `reservation` if one is given); the side effects
    (usage for billing, the webhook, the member's notification and the record of the
    merchant's look-up that the member reads) follow in a task."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.REDEMPTIONS_CREATE)
    if channel not in RedemptionChannel.values:
        raise Invalid(f"channel is one of {', '.join(RedemptionChannel.values)}.", param="channel")
    now = timezone.now()
    at = _occurred_at(occurred_at, now)
    spent, currency = purchase_parse(amount, currency)
    location = location_by_code(merchant=merchant, code=location_code)
    canonical = code_normalize(code)
    if reservation is not None and reservation.merchant_id != merchant.pk:
        raise ReservationNotFound(param="reservation")
    with transaction.atomic(savepoint=False):
        try:
            voucher = _voucher_locked(merchant, canonical)
            holds = reservation is not None and _reservation_holds(reservation, voucher, now)
            _refuse_if_any(voucher, at=at, holds_reservation=holds)
            benefit = benefit_compute(
                perk=voucher.perk,
                amount=spent,
                currency=currency,
                uses_remaining=voucher.uses_allowed - voucher.uses_count - 1,
            )
            redemption = Redemption(
                voucher=voucher,
                merchant=merchant,
                location=location,
                reservation=reservation if holds else None,
                channel=channel,
                amount=spent,
                currency=currency or "",
                benefit=benefit.as_dict(),
                metadata=dict(metadata or {}),
                actor=actor_label(actor),
                occurred_at=at,
                created_at=now,
            )
            _use_take(voucher, redemption, holds=holds, now=now)
        except DomainError as refused:
            refusal: DomainError | None = refused
        else:
            refusal = None
            if holds:
                assert reservation is not None
                Reservation.objects.filter(pk=reservation.pk).update(
                    status=ReservationStatus.CONSUMED, ended_at=now
                )
            if isinstance(actor, User):
                _redemption_audit(redemption, actor, AuditAction.REDEMPTION_CREATED)
            transaction.on_commit(redemption_side_effects_nudge)
    # Raised once the block is left cleanly: a refusal wrote nothing to undo (at most it
    # ended a reservation whose time had run out), so it costs no savepoint and leaves a
    # caller's transaction usable.
    if refusal is not None:
        raise refusal
    return redemption


def redemption_reverse(*, redemption: Redemption, actor: Actor, reason: str = "") -> RedemptionReversal:
    """Undo a redemption within the reversal window: its use is given back, once."""
    actor_require(actor=actor, merchant=redemption.merchant, permission=Permission.REDEMPTIONS_REVERSE)
    if len(reason) > 300:
        raise Invalid("A reason is at most 300 characters.", param="reason")
    now = timezone.now()
    if RedemptionReversal.objects.filter(redemption=redemption).exists():
        raise AlreadyReversed()
    if now > redemption.created_at + settings.REDEMPTION_REVERSAL_WINDOW:
        raise ReversalWindowClosed()
    with transaction.atomic():
        voucher_lock_by_pk(redemption.voucher_id)
        try:
            with transaction.atomic():
                reversal = RedemptionReversal.objects.create(
                    redemption=redemption, reason=reason.strip(), actor=actor_label(actor), created_at=now
                )
        except IntegrityError:
            raise AlreadyReversed() from None
        _redemption_audit(redemption, actor, AuditAction.REDEMPTION_REVERSED)
        Voucher.objects.filter(pk=redemption.voucher_id).update(
            uses_count=F("uses_count") - 1,
            status=Case(
                When(status=VoucherStatus.REDEEMED, expires_at__gt=now, then=Value(VoucherStatus.ISSUED)),
                When(status=VoucherStatus.REDEEMED, then=Value(VoucherStatus.EXPIRED)),
                default=F("status"),
            ),
            status_changed_at=Case(
                When(status=VoucherStatus.REDEEMED, then=Value(now)), default=F("status_changed_at")
            ),
        )
        reversal_side_effects.delay_on_commit(reversal.pk)
    return reversal


def voucher_refusal(voucher: Voucher, *, at: datetime, holds_reservation: bool = False) -> DomainError | None:
    """Why `voucher` cannot be used at `at` on its own account (its state and its uses),
    or None. Eligibility is the perk's question, asked after this."""
    if voucher.status == VoucherStatus.REVOKED:
        return VoucherRevoked()
    if voucher.status == VoucherStatus.EXPIRED or at >= voucher.expires_at:
        return VoucherExpired()
    if at < voucher.valid_from:
        return VoucherNotYetValid()
    if voucher.status == VoucherStatus.REDEEMED or voucher.uses_count >= voucher.uses_allowed:
        return VoucherAlreadyRedeemed()
    if not holds_reservation and voucher.uses_count + voucher.uses_reserved >= voucher.uses_allowed:
        return VoucherReserved()
    return None


def _refusal(voucher: Voucher, *, at: datetime, holds_reservation: bool) -> DomainError | None:
    return voucher_refusal(voucher, at=at, holds_reservation=holds_reservation) or perk_refusal(
        perk=voucher.perk,
        member=voucher.member,
        standing=_standing_read(voucher.member),
        at=at,
    )


def _standing_read(member: Member) -> Standing | None:
    """The standing joined into the voucher's query; None (read it if eligibility asks)
    for a member who has none."""
    return standing_from(member.standing) if hasattr(member, "standing") else None


def _refuse_if_any(voucher: Voucher, *, at: datetime, holds_reservation: bool) -> None:
    refusal = _refusal(voucher, at=at, holds_reservation=holds_reservation)
    if refusal is not None:
        raise refusal


def _use_take(voucher: Voucher, redemption: Redemption, *, holds: bool, now: datetime) -> None:
    """Count one use on the locked voucher (the reservation's, when it `holds` one) and
    write its `redemption`, in one statement where the database allows, and mirror what the
    UPDATE wrote on the row read: the lock kept anyone else from changing it since, so no
    read-back is needed. Written out (perks.vouchers.sql), as the lock query is: the ORM's
    form (conditions and CASEs) took longer to compile than to run."""
    used = row_insert_after(
        redemption,
        statement=USE_TAKE_HELD.sql if holds else USE_TAKE.sql,
        params=[
            VoucherStatus.REDEEMED,
            database().ops.adapt_datetimefield_value(now),
            voucher.pk,
            VoucherStatus.ISSUED,
        ],
    )
    if not used:  # the lock makes this unreachable; the condition is the database's word
        raise VoucherAlreadyRedeemed()
    voucher.uses_count += 1
    if holds:
        voucher.uses_reserved -= 1
    if voucher.uses_count == voucher.uses_allowed:
        voucher.status, voucher.status_changed_at = VoucherStatus.REDEEMED, now


def _room_left() -> Q:
    return Q(status=VoucherStatus.ISSUED, uses_count__lt=F("uses_allowed") - F("uses_reserved"))


def _voucher_locked(merchant: Merchant, code: str) -> Voucher:
    voucher = voucher_lock(merchant=merchant, code=code)
    if voucher is None:
        raise VoucherNotFound(param="code")
    return voucher


def _reservation_holds(reservation: Reservation, voucher: Voucher, now: datetime) -> bool:
    """Whether `reservation` holds a use of `voucher` now (called under the voucher's lock).

    One whose time ran out before the sweeper saw it is expired here and holds nothing:
    the redemption then needs a use that nobody holds.
    """
    if reservation.voucher_id != voucher.pk:
        raise Invalid("This reservation is for another voucher.", param="reservation")
    current = Reservation.objects.get(pk=reservation.pk)
    if current.status != ReservationStatus.ACTIVE:
        raise ReservationNotActive(param="reservation")
    if current.expires_at > now:
        return True
    _reservation_end(current, ReservationStatus.EXPIRED, now)
    voucher.uses_reserved -= 1
    return False


def _reservation_end(reservation: Reservation, status: str, now: datetime) -> bool:
    """End an active reservation and give its use back; call under the voucher's lock."""
    ended = Reservation.objects.filter(pk=reservation.pk, status=ReservationStatus.ACTIVE).update(
        status=status, ended_at=now
    )
    if ended:
        Voucher.objects.filter(pk=reservation.voucher_id).update(uses_reserved=F("uses_reserved") - 1)
    return bool(ended)


def _redemption_audit(redemption: Redemption, actor: Actor, action: str) -> None:
    """The trail's entry for a redemption a person made (at the counter, in the admin) and for
    every reversal. A till's key redeems at a rate the trail is not for: its redemptions are
    their own record (and the redemptions export), and the trail keeps what people did."""
    voucher, location = redemption.voucher, redemption.location
    audit_record(
        merchant=redemption.merchant,
        actor=actor,
        action=action,
        target=redemption.ref,
        params={"perk": voucher.perk.ref, "code": voucher.code, "location": location.ref if location else ""},
    )


def _occurred_at(occurred_at: datetime | None, now: datetime) -> datetime:
    if occurred_at is None:
        return now
    if timezone.is_naive(occurred_at):
        raise Invalid("occurred_at is a date and time with a time zone.", param="occurred_at")
    if occurred_at > now + OCCURRED_AT_SKEW:
        raise Invalid("occurred_at cannot be in the future.", param="occurred_at")
    return occurred_at


def _lookup_record(voucher: Voucher, purpose: str) -> None:
    member_lookup_record(
        member=voucher.member,
        merchant_ref=voucher.perk.merchant.ref,
        merchant_name=voucher.perk.merchant.name,
        purpose=purpose,
    )
