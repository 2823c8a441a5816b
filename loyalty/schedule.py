"""Every periodic job, in one place. Times are in settings.TIME_ZONE."""

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Retries and lost sends of webhooks: the backoff's resolution is this interval.
    "webhook-deliveries-dispatch": {"task": "merchants.webhook_deliveries_dispatch", "schedule": 15.0},
    "points-expire-due": {"task": "points.expire_due", "schedule": crontab(hour=3, minute=15)},
    # Idempotency-Key records past their 24 hours of replay.
    "idempotency-records-purge": {"task": "api.idempotency_records_purge", "schedule": 3600.0},
}
