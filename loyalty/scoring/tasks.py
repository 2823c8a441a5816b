"""Scoring jobs. Each is idempotent: running one twice finds its work done and returns.
Services enqueue these, so each task imports what it calls inside (loyalty/core/tasks.py)."""

from loyalty.core.tasks import task

PENDING_ROUNDS_PER_TASK = 50


@task("scoring.recompute_pending")
def recompute_pending() -> int:
    """Recompute the members whose events or consent changed, a thousand at a time."""
    from django.core.cache import cache

    from loyalty.scoring.services import score_recompute_pending
    from loyalty.scoring.services.recompute import DEBOUNCE_KEY

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


@task("scoring.recompute_all", soft_time_limit=3600, time_limit=3900)
def recompute_all() -> dict[str, int]:
    from loyalty.scoring.services import scores_recompute_all

    outcome = scores_recompute_all()
    return {"changed": outcome.changed, "tier_changes": outcome.tier_changes}


@task("scoring.downgrade_due")
def downgrade_due() -> int:
    from loyalty.scoring.services import tiers_downgrade_due

    return tiers_downgrade_due().tier_changes


@task("scoring.expire_holds")
def expire_holds() -> int:
    from loyalty.scoring.services import holds_expire

    return holds_expire()


@task("scoring.disputes_lapse")
def disputes_lapse() -> int:
    """Decide for the member the disputes nobody resolved in time."""
    from loyalty.scoring.services import disputes_lapse

    return disputes_lapse()
