"""How long until something ends, as the member reads it: "in 3 days", "in 5 hours".

`{% load app_countdown %}`, then `{{ voucher.expires_at|time_left }}`. One unit, the
largest that still says enough: days from two days on, hours from two hours on, minutes
below. static/js/app/countdown.js says the same with the browser's Intl.RelativeTimeFormat
and keeps it current while the page stays open (or comes back from the offline cache).
"""

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from surfaces.app.templatetags.app_format import points as number

register = template.Library()

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def time_left_text(until: datetime, *, now: datetime | None = None) -> str:
    seconds = int((until - (now or timezone.now())).total_seconds())
    if seconds <= 0:
        return _("expired")
    if seconds >= 2 * DAY:
        count = seconds // DAY
        text = ngettext("in %(count)s day", "in %(count)s days", count)
    elif seconds >= 2 * HOUR:
        count = seconds // HOUR
        text = ngettext("in %(count)s hour", "in %(count)s hours", count)
    else:
        count = max(1, seconds // MINUTE)
        text = ngettext("in %(count)s minute", "in %(count)s minutes", count)
    return text % {"count": number(count)}


@register.filter
def time_left(value: datetime | None) -> str:
    """How long from now until `value`, in one unit; "expired" once it has passed."""
    return "" if value is None else time_left_text(value)


@register.filter
def iso_instant(value: datetime | None) -> str:
    """The instant in UTC for scripts (`data-expires-at`), whatever the page's time zone."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
