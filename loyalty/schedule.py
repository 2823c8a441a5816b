"""Every periodic job, in one place. Times are in settings.TIME_ZONE."""

BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
