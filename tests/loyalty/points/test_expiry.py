from datetime import UTC, date, datetime, timedelta

import pytest

from loyalty.members.models import Notification
from loyalty.points.models import PlatformAccount, PointsLot, PointsTransaction, TransactionKind
from loyalty.points.reasons import reason_text
from loyalty.points.selectors import points_balance
from loyalty.points.services import (
    platform_account,
    points_expire_due,
    points_spend,
    points_transaction_reverse,
)
from loyalty.points.tasks import expire_due
from tests.factories import MemberFactory
from tests.loyalty.points.ledger_checks import assert_ledger_consistent, earn

pytestmark = pytest.mark.django_db


def earned_on(day: date, hour: int = 12) -> datetime:
    # Noon UTC is the same day in Shanghai, the settings' time zone.
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def expirations():
    return PointsTransaction.objects.filter(kind=TransactionKind.EXPIRE)


def test_what_is_left_of_lots_past_their_date_expires_in_one_transaction_per_member():
    alice, bob = MemberFactory.create(), MemberFactory.create()
    earn(alice.pk, 100, occurred_at=earned_on(date(2025, 3, 1)))
    earn(alice.pk, 50, occurred_at=earned_on(date(2025, 3, 2)))
    earn(alice.pk, 70, occurred_at=earned_on(date(2025, 9, 1)))  # not due yet
    earn(bob.pk, 30, occurred_at=earned_on(date(2025, 3, 1)))
    points_spend(
        member=alice,
        points=80,
        idempotency_key="s",
        reason_code="perk_claim",
        reason_params={"perk_title": "Free coffee"},
        actor="member:a",
    )

    result = points_expire_due(today=date(2026, 3, 2))

    assert (result.wallets, result.points) == (2, 20 + 50 + 30)
    assert points_balance(member=alice) == 70
    assert points_balance(member=bob) == 0
    assert platform_account(platform=PlatformAccount.EXPIRY).balance == 100
    alices = expirations().get(postings__account__member=alice)
    assert reason_text(alices.reason_code, alices.reason_params) == "Expired: earned 2025-03-01 to 2025-03-02"
    bobs = expirations().get(postings__account__member=bob)
    assert reason_text(bobs.reason_code, bobs.reason_params) == "Expired: earned 2025-03-01"
    assert_ledger_consistent()


def test_running_the_expiry_twice_expires_once():
    member = MemberFactory.create()
    earn(member.pk, 100, occurred_at=earned_on(date(2025, 3, 1)))

    points_expire_due(today=date(2026, 3, 1))
    again = points_expire_due(today=date(2026, 3, 1))

    assert (again.wallets, again.points) == (0, 0)
    assert expirations().count() == 1
    assert points_balance(member=member) == 0


def test_a_lot_expires_on_its_date_and_not_the_day_before():
    member = MemberFactory.create()
    earn(member.pk, 100, occurred_at=earned_on(date(2025, 3, 1)))

    assert points_expire_due(today=date(2026, 2, 28)).points == 0
    assert points_expire_due(today=date(2026, 3, 1)).points == 100


def test_members_are_told_once_thirty_days_before_their_points_expire():
    member = MemberFactory.create()
    earn(member.pk, 100, occurred_at=earned_on(date(2025, 3, 31)))
    earn(member.pk, 40, occurred_at=earned_on(date(2025, 5, 1)))  # expires beyond the notice

    points_expire_due(today=date(2026, 3, 1))
    points_expire_due(today=date(2026, 3, 2))

    notice = Notification.objects.get(member=member)
    assert notice.kind == "points_expiring"
    assert notice.params == {"points": 100, "date": "2026-03-31"}


def test_no_notice_before_the_window_opens():
    member = MemberFactory.create()
    earn(member.pk, 100, occurred_at=earned_on(date(2025, 4, 1)))

    assert points_expire_due(today=date(2026, 3, 1)).notices == 0
    assert points_expire_due(today=date(2026, 3, 2)).notices == 1


def test_reversing_an_expiry_gives_the_points_back_to_their_lots():
    member = MemberFactory.create()
    earn(member.pk, 100, occurred_at=earned_on(date(2025, 3, 1)))
    points_expire_due(today=date(2026, 3, 5))

    points_transaction_reverse(
        transaction=expirations().get(), idempotency_key="undo", note="Ran early", actor="operator:t"
    )

    assert points_balance(member=member) == 100
    assert PointsLot.objects.get().remaining == 100
    assert_ledger_consistent()


def test_the_daily_task_runs_on_a_real_worker(celery_worker):
    member = MemberFactory.create()
    long_ago = datetime.now(UTC) - timedelta(days=800)
    earn(member.pk, 25, occurred_at=long_ago)

    outcome = expire_due.apply_async(ignore_result=False).get(timeout=30)

    assert outcome["points"] == 25
    assert points_balance(member=member) == 0
