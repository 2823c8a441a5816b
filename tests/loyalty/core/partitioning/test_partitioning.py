"""Partitioned history on PostgreSQL: an existing database's rows land in the DEFAULT
partition when the migrations run, `partition_history` moves them into their months in
batches (and goes on when run again), and each dedupe key still holds."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from loyalty.core.partitioning import default_rows, partitioned_tables, partitions_maintain, sql
from loyalty.members.models import MemberLookup, Notification, NotificationKey
from loyalty.members.services import notification_add
from loyalty.scoring.engine import ENGINE, HORIZON_HALF_LIVES
from loyalty.scoring.models import EventKey, ScoreEvent
from loyalty.scoring.services import ScoreEventInput, score_events_record
from tests.factories import MERCHANT_REF, JoinedMemberFactory
from tests.support.migrations import migrate_to
from tests.support.races import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

BEFORE = (("scoring", "0012_snapshots_erasable"), ("members", "0010_lookups_erasable"))
MONTHS = 4


def _fill_plain_tables(member) -> None:
    """Rows of MONTHS past months, written as the schema before partitioning held them."""
    now = datetime.now(UTC)
    for month in range(MONTHS):
        at = now - timedelta(days=31 * month)
        for n in range(3):
            ScoreEvent.objects.create(
                member=member, source=MERCHANT_REF, external_id=f"old-{month}-{n}", kind_id="payment_on_time",
                dimension="payment_history", impact=5, occurred_at=at, occurred_day=0, recorded_at=at,
            )  # fmt: skip
            MemberLookup.objects.create(
                member=member,
                merchant_ref=MERCHANT_REF,
                merchant_name="Shop",
                purpose="benefits",
                looked_up_at=at,
            )
        Notification.objects.create(member=member, kind="note", dedupe_key=f"old-{month}", created_at=at)


def _in_months(table: str) -> int:
    return sum(rows for name, rows in sql.month_partitions(table).items() if not name.endswith("_default"))


def test_every_history_table_is_partitioned_and_sqlite_would_keep_plain_tables():
    assert set(partitioned_tables()) == {
        "members_memberlookup", "members_notification", "merchants_auditentry", "merchants_webhookattempt",
        "scoring_scoreevent", "scoring_scoresnapshot", "vouchers_usagerecord",
    }  # fmt: skip


def test_an_existing_database_moves_into_months_in_batches_and_keeps_every_key():
    member = JoinedMemberFactory.create()
    try:
        migrate_to(*BEFORE)
        _fill_plain_tables(member)
        with connection.cursor() as cursor:  # the deferred checks of those rows, as their commit would
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        migrate_to()

        waiting = default_rows()
        assert waiting["scoring_scoreevent"] == 3 * MONTHS  # readable at once, from the DEFAULT partition
        assert ScoreEvent.objects.count() == 3 * MONTHS
        assert EventKey.objects.count() == 3 * MONTHS
        assert NotificationKey.objects.count() == MONTHS

        out = StringIO()
        call_command("partition_history", "--max-batches", "1", stdout=out)
        assert "Run the command again" in out.getvalue()
        assert 0 < sum(default_rows().values()) < sum(waiting.values())

        call_command("partition_history", stdout=out)
        assert "Every default partition is empty" in out.getvalue()
        assert not any(default_rows().values())
        assert _in_months("scoring_scoreevent") == ScoreEvent.objects.count() == 3 * MONTHS
        assert _in_months("members_memberlookup") == MemberLookup.objects.count() == 3 * MONTHS
        assert _in_months("members_notification") == Notification.objects.count() == MONTHS

        replay = ScoreEventInput(
            "old-3-0", member.pk, "payment_on_time", datetime.now(UTC) - timedelta(days=93)
        )
        assert score_events_record(source=MERCHANT_REF, events=[replay]).duplicates == 1
        notification_add(member=member, kind="note", dedupe_key="old-3")
        assert Notification.objects.count() == MONTHS
    finally:
        migrate_to()


def test_a_moved_row_is_still_append_only():
    member = JoinedMemberFactory.create()
    score_events_record(
        source=MERCHANT_REF, events=[ScoreEventInput("e-1", member.pk, "payment_on_time", datetime.now(UTC))]
    )

    with pytest.raises(Exception, match="append-only"):
        ScoreEvent.objects.filter(member=member).update(impact=1)


def test_maintenance_writes_retention_from_settings_and_keeps_months_ahead(settings):
    settings.PARTITION_RETENTION = {**settings.PARTITION_RETENTION, "members_memberlookup": 2}
    settings.PARTITION_PREMAKE = 6

    assert "members_memberlookup" in partitions_maintain()

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT retention, premake, retention_keep_table FROM partman.part_config"
            " WHERE parent_table = %s",
            ["public.members_memberlookup"],
        )
        assert cursor.fetchone() == ("2 months", 6, False)
    months = [name for name in sql.month_partitions("members_memberlookup") if not name.endswith("_default")]
    assert len(months) >= 7  # this month and six ahead


def test_score_events_are_kept_as_long_as_a_score_counts_them(settings):
    """The engine counts an event for twelve half-lives: a retention shorter than the longest
    would drop events that scores still count."""
    months = settings.PARTITION_RETENTION["scoring_scoreevent"]
    horizon_days = max(rule.half_life_days for rule in ENGINE.rules) * HORIZON_HALF_LIVES

    assert months is None or months * 28 >= horizon_days


@pytest.mark.django_db(transaction=True)
def test_the_same_notification_written_by_eight_at_once_is_written_once():
    member = JoinedMemberFactory.create()

    outcomes = race(lambda _: notification_add(member=member, kind="note", dedupe_key="once"), threads=8)

    assert all(outcome.ok for outcome in outcomes), [outcome.error for outcome in outcomes]
    assert Notification.objects.filter(dedupe_key="once").count() == 1
    assert NotificationKey.objects.filter(dedupe_key="once").count() == 1
