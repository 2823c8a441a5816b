"""The daily expiry of points: what is left of lots past their date, and the notice before."""

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db.models import Sum
from django.db.transaction import atomic

from loyalty.core.partitioning import keys_insert_new
from loyalty.members.models import Notification, NotificationKey
from loyalty.points.locks import accounts_lock
from loyalty.points.models import PlatformAccount, PointsLot, TransactionKind
from loyalty.points.services.accounts import platform_account
from loyalty.points.services.ledger import Draft, post_draft

EXPIRY_ACTOR = "system:points_expiry"
NOTICE_KIND = "points_expiring"


@dataclass
class ExpiryResult:
    wallets: int = 0
    points: int = 0
    notices: int = 0


def points_expire_due(*, today: date) -> ExpiryResult:
    """Expire what is left of every lot due by `today`, one transaction per wallet, and tell
    members whose points expire within the notice period. Safe to run twice: a second run
    finds nothing left to expire and every notice already written."""
    result = ExpiryResult()
    due_wallets = (
        PointsLot.objects.filter(remaining__gt=0, expires_on__lte=today)
        .values_list("account_id", flat=True)
        .distinct()
        .order_by("account_id")
    )
    for account_id in due_wallets.iterator():
        if (expired := _expire_wallet(account_id, today)) is not None:
            result.wallets += 1
            result.points += expired
    result.notices = _notify_expiring(today)
    return result


def _expire_wallet(account_id: int, today: date) -> int | None:
    with atomic():
        expiry = platform_account(platform=PlatformAccount.EXPIRY)
        locked = accounts_lock([account_id, expiry.pk])
        due = list(
            PointsLot.objects.filter(account_id=account_id, remaining__gt=0, expires_on__lte=today).order_by(
                "earned_on"
            )
        )
        if not due:
            return None
        points = sum(lot.remaining for lot in due)
        first, last = due[0].earned_on.isoformat(), due[-1].earned_on.isoformat()
        # The key names exactly what is expired, so a rerun that finds the same lots replays.
        state = ",".join(f"{lot.pk}:{lot.remaining}" for lot in due)
        digest = hashlib.sha256(state.encode()).hexdigest()[:32]
        post_draft(
            Draft(
                idempotency_key=f"expiry:{account_id}:{today.isoformat()}:{digest}",
                kind=TransactionKind.EXPIRE,
                entries=[(locked[account_id], -points), (locked[expiry.pk], points)],
                reason_code="expiry" if first == last else "expiry_span",
                reason_params={"earned_on": first}
                if first == last
                else {"earned_on": first, "earned_until": last},
                actor=EXPIRY_ACTOR,
                lot_moves={account_id: [(lot, -lot.remaining) for lot in due]},
                request={"expire": account_id, "lots": state},
            )
        )
        return points


def _notify_expiring(today: date) -> int:
    horizon = today + timedelta(days=settings.POINTS_EXPIRY_NOTICE_DAYS)
    expiring = (
        PointsLot.objects.filter(remaining__gt=0, expires_on__gt=today, expires_on__lte=horizon)
        .values("account__member_id", "expires_on")
        .annotate(points=Sum("remaining"))
        .order_by("account__member_id", "expires_on")
    )
    notices = [
        Notification(
            member_id=row["account__member_id"],
            kind=NOTICE_KIND,
            params={"points": row["points"], "date": row["expires_on"].isoformat()},
            dedupe_key=f"{NOTICE_KIND}:{row['account__member_id']}:{row['expires_on'].isoformat()}",
        )
        for row in expiring
    ]
    # Keys claimed first, as notifications_add does: the notices of a rerun are all taken.
    with atomic():
        claimed = keys_insert_new(NotificationKey, sorted((n.dedupe_key,) for n in notices))
        fresh = [n for n in notices if (n.dedupe_key,) in claimed]
        Notification.objects.bulk_create(fresh)
    return len(fresh)
