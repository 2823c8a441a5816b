from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.scoring.models import Tier
from perks.catalog.models import Perk
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


class RedeemForm(forms.Form):
    """What a cashier types or scans; `submission` makes a double click redeem once."""

    code = forms.CharField(label=_("Voucher code"), max_length=64)
    location = forms.ChoiceField(label=_("Location"), required=False)
    amount = forms.DecimalField(
        label=_("Amount of the purchase"), required=False, min_value=0, max_digits=14, decimal_places=4
    )
    currency = forms.CharField(label=_("Currency"), required=False, max_length=3)
    submission = forms.RegexField(regex=r"^[0-9a-f]{32}$", widget=forms.HiddenInput)

    def __init__(self, *args: object, locations: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["location"].choices = [("", _("Not given")), *locations]  # type: ignore[attr-defined]


class ReversalForm(forms.Form):
    reason = forms.CharField(label=_("Why"), max_length=300, required=False)


class CampaignForm(forms.Form):
    """What a campaign needs; the rules (a live perk of this merchant, an audience named,
    a known tier, a score in range) are the service's, and its refusals land on these fields."""

    perk = forms.ChoiceField(label=_("Perk"))
    min_tier = forms.ChoiceField(label=_("Members of this tier and above"), required=False)
    min_score = forms.IntegerField(label=_("Members with at least this score"), required=False)

    def __init__(self, *args: Any, perks: Iterable[Perk], tiers: Iterable[Tier], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        perk, min_tier = self.fields["perk"], self.fields["min_tier"]
        assert isinstance(perk, forms.ChoiceField)
        assert isinstance(min_tier, forms.ChoiceField)
        perk.choices = [(p.ref, p.title) for p in perks]
        min_tier.choices = [("", _("Any tier")), *((t.slug, t.name) for t in tiers)]
