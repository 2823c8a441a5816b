"""Every periodic job, in one place. Times are in settings.TIME_ZONE."""

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Retries and lost sends of webhooks: the backoff's resolution is this interval.
    "webhook-deliveries-dispatch": {"task": "merchants.webhook_deliveries_dispatch", "schedule": 15.0},
    # Vouchers past their expiry; reservations past their time give their use back, so
    # the interval is how long a lapsed checkout may keep a use from others at worst.
    "vouchers-expire-due": {"task": "vouchers.expire_due", "schedule": crontab(minute="*/10")},
    "vouchers-reservations-expire-due": {"task": "vouchers.reservations_expire_due", "schedule": 60.0},
    "points-expire-due": {"task": "points.expire_due", "schedule": crontab(hour=3, minute=15)},
    # Scoring: a sweep behind the debounced recomputation, the nightly full run (decay
    # moves scores), the grace-period downgrades, and holds that reach their expiry.
    "scoring-recompute-pending": {"task": "scoring.recompute_pending", "schedule": 60.0},
    "scoring-recompute-all": {"task": "scoring.recompute_all", "schedule": crontab(hour=2, minute=30)},
    "scoring-downgrade-due": {"task": "scoring.downgrade_due", "schedule": crontab(hour=3, minute=30)},
    "scoring-expire-holds": {"task": "scoring.expire_holds", "schedule": crontab(minute="*/5")},
    # Disputes nobody resolved by their due time are decided for the member.
    "scoring-disputes-lapse": {"task": "scoring.disputes_lapse", "schedule": crontab(minute="*/15")},
    "members-purge-passes": {"task": "members.purge_passes", "schedule": crontab(hour=4, minute=15)},
    # Erasure requests whose days to cancel have passed: carried out within the hour.
    "members-erase-due": {"task": "members.erase_due", "schedule": crontab(minute=40)},
    # Redemptions whose side effects are still due after a crash or a broker that was down
    # lost their wake-up; reversals whose task was never queued, the same way.
    "vouchers-redemption-side-effects-due": {
        "task": "vouchers.redemption_side_effects_due",
        "schedule": 60.0,
    },
    "vouchers-reversal-side-effects-due": {"task": "vouchers.reversal_side_effects_due", "schedule": 60.0},
    # The dashboard's daily rollup: today's and yesterday's rows counted again from the
    # vouchers, redemptions and points ledger (issuing counts come from here only).
    "vouchers-rollup-recount": {"task": "vouchers.rollup_recount_recent", "schedule": crontab(minute="*/5")},
    # Campaigns whose worker died holding their messages: their pending chunks queued again.
    "vouchers-campaigns-resume": {"task": "vouchers.campaigns_resume", "schedule": 60.0},
    # Work whose task a broker that was down never queued: the auto-issue of the perks of a
    # tier reached, offline redemption batches still pending (or whose worker was lost),
    # billing notices to owners.
    "vouchers-auto-issue-due": {"task": "vouchers.auto_issue_due", "schedule": 60.0},
    "vouchers-redemption-batches-due": {"task": "vouchers.redemption_batches_due", "schedule": 60.0},
    "billing-notices-due": {"task": "billing.billing_notices_due", "schedule": 60.0},
    # Logos and perk images whose renditions or deletions were never queued: missing
    # renditions made, replaced files deleted (each sweep lists one folder per owner).
    "merchants-logos-sweep": {"task": "merchants.logos_sweep", "schedule": crontab(minute="*/10")},
    "catalog-perk-images-sweep": {"task": "catalog.perk_images_sweep", "schedule": crontab(minute="5-59/10")},
    # Monthly partitions of the history tables (PostgreSQL): months ahead made, months past
    # their retention dropped (settings.PARTITION_RETENTION).
    "core-partitions-maintain": {"task": "core.partitions_maintain", "schedule": crontab(hour=1, minute=50)},
    # Idempotency-Key records past their 24 hours of replay (a plain table purged in batches:
    # a day's rows, too short-lived for monthly partitions).
    "idempotency-records-purge": {"task": "api.idempotency_records_purge", "schedule": 3600.0},
    # Billing: Stripe events a lost task left unapplied; holds whose capture policy is due
    # before their authorisation lapses, and deposits never completed; last month's
    # invoicing once its reversal window has closed (a merchant done is skipped); invoices
    # unpaid past the grace period, in the morning, as the owners are emailed.
    "billing-stripe-events-apply-due": {"task": "billing.stripe_events_apply_due", "schedule": 60.0},
    "billing-deposits-due": {"task": "billing.deposits_due", "schedule": crontab(minute="*/15")},
    "billing-invoice-runs-due": {"task": "billing.invoice_runs_due", "schedule": crontab(hour=4, minute=45)},
    "billing-dunning-due": {"task": "billing.dunning_due", "schedule": crontab(hour=9, minute=0)},
}
