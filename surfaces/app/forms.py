from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.members.models import Dimension
from loyalty.scoring.services.holds import APPEAL_TEXT_LENGTH


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
