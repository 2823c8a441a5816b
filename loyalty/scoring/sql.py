# ruff: noqa: S608  (table and column names come from the models, constants from their choices)
"""Every statement the scoring app writes out by hand, each beside the ORM code it stands in
for (`replaces`); tests/loyalty/scoring/test_sql.py holds each pair to the same answers."""

from datetime import datetime

from loyalty.core.sql import Statement, column_value, database, row_read
from loyalty.scoring.models import Hold, HoldCategory, HoldEnd, HoldStatus

_ACTIVE = f"status = '{HoldStatus.ACTIVE.value}'"

HOLD_HELD_UNTIL = Statement(
    f"SELECT MAX(CASE WHEN {_ACTIVE} THEN expires_at ELSE lifted_at END)"
    f" FROM {Hold._meta.db_table}"
    " WHERE member_id = %s AND merchant_ref = %s"
    f" AND category IN (%s, '{HoldCategory.ALL.value}') AND placed_at <= %s"
    f" AND ({_ACTIVE} OR lifted_how <> '{HoldEnd.APPEAL.value}')",
    replaces="loyalty.scoring.selectors:holds_suspending",
)


def hold_held_until(*, member_id: int, merchant_ref: str, category: str, at: datetime) -> datetime | None:
    """The last moment one of a merchant's holds placed by `at` kept the member's perks of
    `category` (NULL: never); a hold overturned on appeal never counts. Every eligibility
    check asks it, so it is written out: its ORM form took longer to compile than to run."""
    when = database().ops.adapt_datetimefield_value(at)
    row = row_read(HOLD_HELD_UNTIL.sql, [member_id, merchant_ref, category, when])
    assert row is not None, "an aggregate returns one row"
    held_until: datetime | None = column_value(Hold._meta.get_field("expires_at"), row[0])
    return held_until
