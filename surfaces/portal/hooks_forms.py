"""Forms of the audit trail and export pages (the webhook pages' are in forms.py)."""

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from perks.merchants.audit import AuditAction

EXPORT_DEFAULT_DAYS = 30


class DateInput(forms.DateInput):
    input_type = "date"


class _DateRange(forms.Form):
    """A range of whole days in the merchant's time zone, both ends included."""

    since = forms.DateField(label=_("From"), required=False, widget=DateInput)
    until = forms.DateField(label=_("To (included)"), required=False, widget=DateInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("Choose a day on or after the first day."))
        return data

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """[start of the first day, start of the day after the last) as aware datetimes,
        None for an end left open."""
        since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
        return (
            _day_start(since) if since else None,
            _day_start(until + timedelta(days=1)) if until else None,
        )


class AuditFilterForm(_DateRange):
    actor = forms.ChoiceField(label=_("Who"), required=False)
    kind = forms.ChoiceField(
        label=_("What"), required=False, choices=[("", _("Everything")), *AuditAction.choices]
    )
    field_order = ["actor", "kind", "since", "until"]

    def __init__(self, *args: Any, actors: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        actor = self.fields["actor"]
        assert isinstance(actor, forms.ChoiceField)
        actor.choices = [("", _("Anyone")), *actors]


class ExportForm(_DateRange):
    """The days an export covers; both are needed (the last 30 days at first)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        today = timezone.localdate()
        kwargs.setdefault(
            "initial", {"since": today - timedelta(days=EXPORT_DEFAULT_DAYS - 1), "until": today}
        )
        super().__init__(*args, **kwargs)
        self.fields["since"].required = True
        self.fields["until"].required = True


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))
