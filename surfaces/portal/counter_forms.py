"""The counter's forms: what a cashier types or scans, and why a redemption is undone."""

from django import forms
from django.utils.translation import gettext_lazy as _

from perks.catalog.money import CURRENCY_SYMBOLS
from perks.vouchers.codes import CodeShape, code_shape
from surfaces.portal.counter_messages import counter_message


class RedeemForm(forms.Form):
    """What a cashier types or scans; `submission` makes a double click redeem once.

    The code's shape is checked here, before any service runs, so an empty field, a word
    and a typo are answered at once, each in its own words."""

    location = forms.ChoiceField(label=_("Counter at"), required=False)
    code = forms.CharField(
        label=_("Voucher code"),
        max_length=64,
        required=False,
        help_text=_(
            "Letters and digits as the customer's screen shows them; case and hyphens do not matter."
        ),
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "class": "code-entry",
            }
        ),
    )
    amount = forms.DecimalField(
        label=_("Amount of the purchase"),
        help_text=_("Only for deposits and discounts: what the customer pays or leaves as a deposit."),
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=4,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    currency = forms.ChoiceField(label=_("Currency"), required=False)
    submission = forms.RegexField(regex=r"^[0-9a-f]{32}$", widget=forms.HiddenInput)

    def __init__(
        self, *args: object, locations: list[tuple[str, str]], currency: str, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        location, currencies = self.fields["location"], self.fields["currency"]
        assert isinstance(location, forms.ChoiceField)
        assert isinstance(currencies, forms.ChoiceField)
        location.choices = [("", _("No location given")), *locations]
        currencies.choices = [(code, code) for code in dict.fromkeys([currency, *CURRENCY_SYMBOLS])]
        currencies.initial = currency

    def clean_code(self) -> str:
        code = str(self.cleaned_data.get("code") or "")
        shape = code_shape(code)
        if shape is not CodeShape.WELL_FORMED:
            raise forms.ValidationError(counter_message(shape), code=shape)
        return code


class ReversalForm(forms.Form):
    reason = forms.CharField(
        label=_("Why (optional)"),
        max_length=300,
        required=False,
        help_text=_("Kept with the redemption, and sent to your systems with the reversal."),
        # The confirmation's one field: Enter confirms, as the button beside it does.
        widget=forms.TextInput(attrs={"autofocus": True}),
    )
