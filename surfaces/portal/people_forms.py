"""The forms of the staff, invitation, location and appeal pages. They parse; the rules
(who may, a last owner, a code taken) are the services', whose refusals land on these
fields by the `param` they name."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from perks.merchants.permissions import Role
from perks.merchants.services.invitations import NAME_MAX

ROLE_HELP = _(
    "Owners can do everything, staff and billing included; managers run perks, campaigns, "
    "holds and locations; cashiers redeem vouchers at the counter."
)


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.CASHIER, help_text=ROLE_HELP)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class RemoveForm(forms.Form):
    confirm = forms.BooleanField(label=_("Yes: they lose access to this merchant at once"))


class JoinForm(forms.Form):
    """A new account for the invited address: its name and password; the address is the
    invitation's."""

    name = forms.CharField(
        label=_("Your name"), max_length=NAME_MAX, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "At least 8 characters and not a common one: a few words you will remember make a good one."
        ),
    )
    password_again = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        if data.get("password") and data.get("password_again") and data["password"] != data["password_again"]:
            self.add_error("password_again", _("The two passwords differ; type the same one twice."))
        return data


class LocationForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=120, help_text=_("As your staff call it, e.g. 'Airport T2'.")
    )
    code = forms.CharField(
        label=_("Code"),
        max_length=16,
        help_text=_("1–16 letters, digits or hyphens, such as PVG-T2: what tills send and receipts show."),
    )
    address = forms.CharField(label=_("Address"), max_length=300, required=False)


class LocationEditForm(LocationForm):
    is_active = forms.BooleanField(
        label=_("Open: vouchers can be redeemed here"), required=False, initial=True
    )


class AppealAnswerForm(forms.Form):
    """The merchant's answer to a member's appeal: accepting lifts the hold; declining
    keeps it, with the reason, for Perkline's operators who decide."""

    ACCEPT, DECLINE = "accept", "decline"
    answer = forms.ChoiceField(
        label=_("Your answer"),
        widget=forms.RadioSelect,
        choices=[
            (ACCEPT, _("Accept: lift the hold now")),
            (DECLINE, _("Decline: the hold stays until Perkline's operators decide")),
        ],
    )
    reason = forms.CharField(
        label=_("Why"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The operators read it; when you accept, the member does too."),
    )
