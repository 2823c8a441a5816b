"""The dashboard's filters, read from the query string: a period and, optionally, one perk."""

from collections.abc import Sequence
from datetime import date, timedelta
from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from perks.catalog.models import Perk
from perks.catalog.wording import perk_title

LAST_30, LAST_90, CUSTOM = "30", "90", "custom"
LONGEST_DAYS = 366


class DashboardFilterForm(forms.Form):
    period = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=[
            (LAST_30, _("Last 30 days")),
            (LAST_90, _("Last 90 days")),
            (CUSTOM, _("Dates of my choice")),
        ],
    )
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    perk = forms.ChoiceField(label=_("Perk"), required=False)

    def __init__(self, data: object, *, perks: Sequence[Perk], today: date) -> None:
        super().__init__(data)  # type: ignore[arg-type]
        self.perks = {perk.ref: perk for perk in perks}
        self.today = today
        cast(forms.ChoiceField, self.fields["perk"]).choices = [
            ("", _("All perks")),
            *((p.ref, perk_title(p)) for p in perks),
        ]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("period") != CUSTOM:
            return data
        start, end = data.get("start"), data.get("end")
        if start is None:
            self.add_error("start", _("Give the first day, or choose 30 or 90 days."))
        if end is None:
            self.add_error("end", _("Give the last day, or choose 30 or 90 days."))
        if start and end:
            if end < start:
                self.add_error("end", _("The last day comes on or after the first."))
            elif (end - start).days >= LONGEST_DAYS:
                self.add_error("end", _("Choose at most a year."))
            elif end > self.today:
                self.add_error("end", _("The last day is today at the latest."))
        return data

    def period_days(self) -> tuple[date, date]:
        """The first and last day shown: the last 30 days unless the form says otherwise."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        if data.get("period") == CUSTOM:
            return data["start"], data["end"]
        days = 90 if data.get("period") == LAST_90 else 30
        return self.today - timedelta(days=days - 1), self.today

    def chosen_perk(self) -> Perk | None:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return self.perks.get(data.get("perk") or "")
