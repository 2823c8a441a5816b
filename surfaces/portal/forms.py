from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.scoring.models import Tier
from loyalty.scoring.services.holds import HOLD_TEXT_MAX, OBLIGATION_REF_MAX
from perks.catalog.models import Perk, PerkType
from perks.catalog.wording import perk_title
from perks.merchants.permissions import Scope
from perks.merchants.services.holds import HOLD_PERK_TYPES, MERCHANT_HOLD_REASONS
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
        perk.choices = [(p.ref, perk_title(p)) for p in perks]
        min_tier.choices = [("", _("Any tier")), *((t.slug, t.name) for t in tiers)]


class HoldForm(forms.Form):
    """A hold on a member linked to the merchant; its rules are the service's, the same the
    partner API keeps, and its refusals land on these fields."""

    member = forms.CharField(
        label=_("Member ref"), max_length=64, help_text=_("mem_…, of a member who shared it with you.")
    )
    reason_code = forms.ChoiceField(
        label=_("Reason"), choices=[(reason.value, reason.label) for reason in MERCHANT_HOLD_REASONS]
    )
    detail = forms.CharField(
        label=_("What happened"),
        max_length=HOLD_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("In your words: the member reads it."),
    )
    evidence = forms.CharField(
        label=_("Evidence"),
        max_length=HOLD_TEXT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What backs it, such as a rental agreement or an invoice: the member reads it too."),
    )
    expires_on = forms.DateField(
        label=_("Ends on"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("At the latest; at most 180 days from today."),
    )
    perk_type = forms.ChoiceField(
        label=_("Perks held"),
        required=False,
        choices=[("", _("All our perks")), *((value, PerkType(value).label) for value in HOLD_PERK_TYPES)],
    )
    obligation_ref = forms.CharField(
        label=_("Obligation"),
        max_length=OBLIGATION_REF_MAX,
        required=False,
        help_text=_("Your reference, such as an invoice or a rental: settling it lifts the hold."),
    )
    lift_on = forms.BooleanField(
        label=_("Lift it when we report the obligation settled, even without its reference"), required=False
    )

    # The service's names for what these fields hold, where they differ.
    FIELD_OF_PARAM = {"expires_at": "expires_on"}

    def expires_at(self) -> datetime:
        """The day chosen, from its first moment in the portal's time zone."""
        day: date = self.cleaned_data["expires_on"]
        return timezone.make_aware(datetime.combine(day, time.min))


class HoldLiftForm(forms.Form):
    confirm = forms.BooleanField(label=_("Yes: the member's perks here come back at once"))
    note = forms.CharField(label=_("Why"), max_length=300, required=False)


class HoldFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, label=_("Show"))

    def __init__(self, *args: Any, states: Iterable[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        status = self.fields["status"]
        assert isinstance(status, forms.ChoiceField)
        status.choices = [("", _("All")), *states]
