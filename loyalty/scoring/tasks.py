"""Scoring jobs. Each is idempotent: running one twice finds its work done and returns."""

from celery import shared_task
from django.core.cache import cache

from loyalty.scoring.services import (
    holds_expire,
    score_recompute_pending,
    scores_recompute_all,
    tiers_downgrade_due,
)
from loyalty.scoring.services.recompute import DEBOUNCE_KEY

PENDING_ROUNDS_PER_TASK = 50


@shared_task(name="scoring.recompute_pending")
def recompute_pending() -> int:
    """Recompute the members whose events or consent changed, a thousand at a time."""
    cache.delete(DEBOUNCE_KEY)
    done = 0
    for _ in range(PENDING_ROUNDS_PER_TASK):
        taken = score_recompute_pending()
        if not taken:
            return done
        done += taken
    # More is waiting: continue in a fresh task rather than outlive the time limit.
    recompute_pending.delay()
    return done


@shared_task(name="scoring.recompute_all", soft_time_limit=3600, time_limit=3900)
def recompute_all() -> dict[str, int]:
    outcome = scores_recompute_all()
    return {"changed": outcome.changed, "tier_changes": outcome.tier_changes}


@shared_task(name="scoring.downgrade_due")
def downgrade_due() -> int:
    return tiers_downgrade_due().tier_changes


@shared_task(name="scoring.expire_holds")
def expire_holds() -> int:
    return holds_expire()
