"""Every periodic job, in one place. Times are in settings.TIME_ZONE."""

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "points-expire-due": {"task": "points.expire_due", "schedule": crontab(hour=3, minute=15)},
}
