"""The portal's perk form: one form per perk type, whose rules are all the catalog's.

The fields only turn what a person types into the values the partner API would send
(`perks.catalog.services.perk_create` and `perk_update` take both): numbers stay text when
they are not whole numbers, amounts stay decimal text, blank is "not given". Whatever the
services refuse comes back as a `DomainError` naming its parameter (`params.max_amount`),
which `error_place` puts on the field that holds it, so a person reads the same message next
to the field that a partner reads in the API's answer.
"""

import dataclasses
import re
import typing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.core.errors import DomainError
from loyalty.scoring.models import Tier
from perks.catalog.models import LimitPeriod, Perk, PerkType
from perks.catalog.params import (
    PARAMS_OF_TYPE,
    AccessKind,
)
from perks.merchants.images import MAX_UPLOAD_BYTES

# What each parameter is called on the form, and a hint; the names are the API's.
PARAM_WORDS: dict[str, tuple[Any, Any]] = {
    "max_amount": (_("Largest deposit waived"), _("In the currency above, such as 5000.00.")),
    "currency": (_("Currency"), _("Its ISO code, such as CNY or USD.")),
    "margin_reduction_bps": (
        _("Margin reduction, in basis points"),
        _("100 basis points are 1 percentage point off your margin."),
    ),
    "currencies": (
        _("Currencies"),
        _("ISO codes separated by commas, such as EUR, USD; leave it empty for every currency you trade."),
    ),
    "venue": (_("Venue"), _("Where the pass is used, such as Terminal 2 lounge.")),
    "kind": (_("Kind of access"), ""),
    "entries_per_voucher": (_("Entries per voucher"), _("Each entry is one use of the voucher.")),
    "item": (_("Item"), _("Your name for it, as members will read it, such as Flat white.")),
    "max_value": (_("Worth up to"), _("Needs a currency.")),
    "percent": (_("Percent off"), _("Such as 15; give this or an amount off.")),
    "amount_off": (_("Amount off"), _("Give this or a percent off; needs a currency.")),
    "min_spend": (_("Minimum spend"), _("Needs a currency.")),
    "max_discount": (_("Largest discount"), _("Caps a percent discount.")),
}
PARAM_PREFIX = "param_"
PARAMS_PARAM = "params."
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
IMAGE_TYPES = "image/png,image/jpeg,image/webp"


@dataclass(frozen=True)
class Section:
    key: str
    legend: Any
    fields: list[forms.BoundField]


class _Moment(forms.DateTimeInput):
    """The browser's date and time picker, in the portal's time zone, to the minute."""

    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format=DATETIME_LOCAL)


def _text(label: Any, *, help_text: Any = "", rows: int = 0, numeric: str = "") -> forms.CharField:
    """Text the service checks: nothing is refused here, so its message is the one shown."""
    attrs = {"inputmode": numeric} if numeric else {}
    widget = forms.Textarea(attrs={"rows": rows}) if rows else forms.TextInput(attrs=attrs)
    return forms.CharField(label=label, help_text=help_text, required=False, widget=widget, strip=True)


def param_fields(perk_type: str) -> dict[str, forms.Field]:
    """The fields of one type's parameters, read off the dataclass perks.catalog.params parses into."""
    params = PARAMS_OF_TYPE[perk_type]
    hints = typing.get_type_hints(params)
    fields: dict[str, forms.Field] = {}
    for field in dataclasses.fields(params):
        label, help_text = PARAM_WORDS[field.name]
        optional = field.default is not dataclasses.MISSING or field.name == "currencies"
        if optional:
            label = _("%(label)s (optional)") % {"label": label}
        hint = hints[field.name]
        if field.name == "kind":
            fields[PARAM_PREFIX + field.name] = forms.ChoiceField(
                label=label, choices=[("", _("Choose…")), *AccessKind.choices], required=False
            )
            continue
        numeric = "decimal" if Decimal in typing.get_args(hint) or hint is Decimal else ""
        numeric = "numeric" if hint is int else numeric
        fields[PARAM_PREFIX + field.name] = _text(label, help_text=help_text, numeric=numeric)
    return fields


class PerkForm(forms.Form):
    """A perk of one type: its words in English and Chinese, the type's parameters, who
    qualifies, how many, and its image. `type` is chosen on a new perk only (a perk's type
    never changes); `perk_type` is the one whose parameters the form shows."""

    type = forms.ChoiceField(label=_("Type of perk"), choices=PerkType.choices)
    title = _text(_("Title"), help_text=_("In English, as members will read it."))
    title_zh = _text(
        _("Title in Chinese (optional)"),
        help_text=_("Without it, members reading Chinese see the English."),
    )
    description = _text(_("Description (optional)"), rows=3)
    description_zh = _text(_("Description in Chinese (optional)"), rows=3)
    min_tier = forms.ChoiceField(label=_("Minimum tier"), required=False)
    min_score = _text(_("Or a minimum score"), help_text=_("From 350 to 950; not both."), numeric="numeric")
    hold_free_days = _text(
        _("Days without a hold (optional)"),
        help_text=_("Only members you have not held in this many days qualify."),
        numeric="numeric",
    )
    points_cost = _text(_("Points to claim it"), help_text=_("0: free to claim."), numeric="numeric")
    valid_from = forms.DateTimeField(label=_("On offer from"), required=False, widget=_Moment())
    valid_until = forms.DateTimeField(label=_("Until (optional)"), required=False, widget=_Moment())
    inventory = _text(_("Vouchers in all (optional)"), help_text=_("Empty: no limit."), numeric="numeric")
    per_member_limit = _text(_("Vouchers per member (optional)"), numeric="numeric")
    limit_period = forms.ChoiceField(label=_("Per"), choices=LimitPeriod.choices)
    uses_per_voucher = _text(
        _("Uses per voucher (optional)"),
        help_text=_("Default 1; an access pass uses its entries."),
        numeric="numeric",
    )
    voucher_ttl_days = _text(_("A voucher lasts, in days"), numeric="numeric")
    auto_issue = forms.BooleanField(
        label=_("Give it to members when they reach the minimum tier"), required=False
    )
    image = forms.FileField(
        label=_("Image (optional)"),
        required=False,
        widget=forms.FileInput(attrs={"accept": IMAGE_TYPES, "data-perk-image": ""}),
    )

    # The form's parts, in the order a person fills them in; the type's parameters are
    # PARAMS, the part htmx swaps when the type changes.
    PARAMS = "params"
    SECTIONS: tuple[tuple[str, Any, tuple[str, ...]], ...] = (
        ("about", _("What it is"), ("type", "title", "title_zh", "description", "description_zh")),
        (PARAMS, _("What it gives"), ()),
        ("who", _("Who qualifies"), ("min_tier", "min_score", "hold_free_days", "points_cost")),
        (
            "limits",
            _("When and how many"),
            (
                "valid_from",
                "valid_until",
                "inventory",
                "per_member_limit",
                "limit_period",
                "uses_per_voucher",
                "voucher_ttl_days",
                "auto_issue",
            ),
        ),
        ("image", _("Image"), ("image",)),
    )

    def __init__(self, *args: Any, perk_type: str, tiers: list[Tier], new: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.perk_type = perk_type
        self.fields["image"].help_text = _(
            "PNG, JPEG or WebP, up to %(mb)d MB; members see it above the perk."
        ) % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)}
        if not new:
            del self.fields["type"]
        min_tier = self.fields["min_tier"]
        assert isinstance(min_tier, forms.ChoiceField)
        min_tier.choices = [("", _("Any tier")), *((tier.slug, tier.name) for tier in tiers)]
        self.fields.update(param_fields(perk_type))

    @property
    def perk_type_label(self) -> str:
        return str(PerkType(self.perk_type).label)

    def param_names(self) -> list[str]:
        return [name for name in self.fields if name.startswith(PARAM_PREFIX)]

    def sections(self) -> list[Section]:
        """The fields in their parts, for the template."""
        return [
            Section(
                key=key,
                legend=legend,
                fields=[
                    self[name]
                    for name in (self.param_names() if key == self.PARAMS else names)
                    if name in self.fields
                ],
            )
            for key, legend, names in self.SECTIONS
        ]

    def service_values(self) -> dict[str, Any]:
        """The values perk_create or perk_update take, as the partner API would send them."""
        data = self.cleaned_data
        return {
            "title": data["title"],
            "title_zh": data["title_zh"],
            "description": data["description"],
            "description_zh": data["description_zh"],
            "params": self._params(),
            "min_tier": data["min_tier"] or None,
            "min_score": _whole(data["min_score"]),
            "hold_free_days": _whole(data["hold_free_days"]),
            "points_cost": _whole(data["points_cost"]) or 0,
            "valid_from": data["valid_from"] or timezone.now(),
            "valid_until": data["valid_until"],
            "inventory": _whole(data["inventory"]),
            "per_member_limit": _whole(data["per_member_limit"]),
            "limit_period": data["limit_period"],
            "uses_per_voucher": _whole(data["uses_per_voucher"]),
            "voucher_ttl_days": _whole(data["voucher_ttl_days"]),
            "auto_issue": data["auto_issue"],
        }

    def changed_values(self) -> dict[str, Any]:
        """Of `service_values`, those the person changed from the form's initial values:
        a perk's edit sends only what moved, so the audit trail names only that."""
        changed = set(self.changed_data)
        values = self.service_values()
        if not changed.intersection(self.param_names()):
            del values["params"]
        return {name: value for name, value in values.items() if name == "params" or name in changed}

    def _params(self) -> dict[str, Any]:
        """The parameters given (a blank one is not given), typed as in the API's JSON."""
        hints = typing.get_type_hints(PARAMS_OF_TYPE[self.perk_type])
        params: dict[str, Any] = {}
        for name in self.param_names():
            key, value = name.removeprefix(PARAM_PREFIX), self.cleaned_data[name]
            if value in ("", None):
                continue
            if hints[key] is int:
                params[key] = _whole(value)
            elif key == "currencies":
                params[key] = [code for code in re.split(r"[\s,]+", value) if code]
            else:
                params[key] = value
        return params

    def error_place(self, error: DomainError) -> None:
        """A service's refusal, next to the field holding what it names (else above them all)."""
        param = error.param or ""
        field = PARAM_PREFIX + param.removeprefix(PARAMS_PARAM) if param.startswith(PARAMS_PARAM) else param
        self.add_error(field if field in self.fields else None, error.message)


def perk_initial(perk: Perk) -> dict[str, Any]:
    """A perk's values as the form shows them, to edit."""
    initial: dict[str, Any] = {
        name: getattr(perk, name)
        for name in ("title", "title_zh", "description", "description_zh", "limit_period", "auto_issue")
    }
    for name in (
        "min_score",
        "hold_free_days",
        "points_cost",
        "inventory",
        "per_member_limit",
        "uses_per_voucher",
        "voucher_ttl_days",
    ):
        value = getattr(perk, name)
        initial[name] = "" if value is None else str(value)
    initial["min_tier"] = perk.min_tier.slug if perk.min_tier else ""
    initial["valid_from"] = _to_the_minute(perk.valid_from)
    initial["valid_until"] = _to_the_minute(perk.valid_until)
    for key, value in perk.params.items():
        initial[PARAM_PREFIX + key] = ", ".join(value) if isinstance(value, list) else str(value)
    return initial


def new_perk_initial() -> dict[str, Any]:
    return {"points_cost": "0", "voucher_ttl_days": "30", "limit_period": LimitPeriod.LIFETIME}


def _to_the_minute(moment: datetime | None) -> datetime | None:
    """As the picker shows it, so an unchanged date is not read back as a change."""
    return None if moment is None else timezone.localtime(moment).replace(second=0, microsecond=0)


def _whole(text: str) -> int | str | None:
    """A whole number typed, or the text itself for the service to refuse in its words."""
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return text


class PerkArchiveForm(forms.Form):
    """Archiving cannot be undone: the person types the perk's title to say they mean it."""

    title = forms.CharField(label=_("Type the perk's title to confirm"), max_length=200, required=False)

    def __init__(self, *args: Any, perk: Perk, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.perk = perk

    def clean_title(self) -> str:
        typed: str = self.cleaned_data["title"]
        if typed.strip() != self.perk.title.strip():
            raise forms.ValidationError(
                _("That is not this perk's title. Type %(title)s exactly, or go back; nothing was archived."),
                params={"title": self.perk.title},
            )
        return typed
