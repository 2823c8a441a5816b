from django import forms
from django.utils.translation import gettext_lazy as _

from perks.merchants.permissions import Scope
from perks.merchants.services.webhooks import WEBHOOK_EVENT_TYPES


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("Where the key is used, e.g. 'Till 3'.")
    )
    scopes = forms.MultipleChoiceField(
        label=_("May change"), choices=Scope.choices, widget=forms.CheckboxSelectMultiple, required=False
    )


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("Events"),
        choices=[(t, t) for t in WEBHOOK_EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
    )
