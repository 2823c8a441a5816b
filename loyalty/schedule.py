"""Every periodic job, in one place. Times are in settings.TIME_ZONE."""

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Retries and lost sends of webhooks: the backoff's resolution is this interval.
    "webhook-deliveries-dispatch": {"task": "merchants.webhook_deliveries_dispatch", "schedule": 15.0},
    "points-expire-due": {"task": "points.expire_due", "schedule": crontab(hour=3, minute=15)},
}
