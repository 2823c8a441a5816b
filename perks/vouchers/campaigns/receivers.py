"""What the merchant side does when the loyalty side announces something."""

from datetime import datetime
from typing import Any

from perks.vouchers.campaigns.tasks import vouchers_auto_issue_task


def on_tier_changed(
    sender: Any, *, member_id: int, previous_tier: str | None, tier: str, changed_at: datetime, **kwargs: Any
) -> None:
    """A member moved tier (the change is committed): issue the auto-issue perks they reached
    in the background. Moving down reaches nothing; the task finds no perk and returns. If
    the broker is down, beat's sweep (`vouchers_auto_issue_due`) issues them from the
    tier change."""
    vouchers_auto_issue_task.delay_on_commit(member_id, tier, previous_tier, changed_at.isoformat())
