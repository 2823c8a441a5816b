from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from loyalty.members.models import Dimension
from loyalty.scoring.services.disputes import REASON_LENGTH
from loyalty.scoring.services.holds import APPEAL_TEXT_LENGTH
from perks.merchants.models import Merchant


class AppealForm(forms.Form):
    text = forms.CharField(
        label=_("Why should this hold be lifted?"),
        min_length=APPEAL_TEXT_LENGTH[0],
        max_length=APPEAL_TEXT_LENGTH[1],
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class ConsentForm(forms.Form):
    dimension = forms.ChoiceField(choices=Dimension.choices)
    granted = forms.TypedChoiceField(choices=[("1", "share"), ("0", "stop")], coerce=lambda v: v == "1")


class StatementPageForm(forms.Form):
    after = forms.IntegerField(required=False, min_value=1)


class ClaimForm(forms.Form):
    claim_key = forms.RegexField(regex=r"^[0-9a-f]{32}$")


class LinkAddForm(forms.Form):
    """A merchant to share with, picked among `merchants` by its ref."""

    merchant = forms.ModelChoiceField(
        queryset=Merchant.objects.none(),
        to_field_name="ref",
        label=_("Merchant"),
        empty_label=_("Choose a merchant"),
        widget=forms.Select(attrs={"class": "full"}),
    )

    def __init__(self, *args: Any, merchants: QuerySet[Merchant], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["merchant"].queryset = merchants  # type: ignore[attr-defined]


class DisputeForm(forms.Form):
    reason = forms.CharField(
        label=_("What is wrong with it? The merchant and our operators read this."),
        min_length=REASON_LENGTH[0],
        max_length=REASON_LENGTH[1],
        widget=forms.Textarea(attrs={"rows": 4}),
    )
