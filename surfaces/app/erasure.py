"""Deleting the account (GDPR Art. 17): the member re-enters their password, is offered the
download of their data first, and has days to cancel before a job erases them
(loyalty/members/services/erasure.py). Until then the page shows the day and a Cancel button.
"""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from loyalty.core.errors import DomainError
from loyalty.members.services import member_erasure_cancel, member_erasure_due, member_erasure_request
from loyalty.members.services.erasure import ERASURE_CANCEL_DAYS
from surfaces.app.access import MemberRequest, member_required


class ErasureForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: Any, user: AbstractBaseUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("That is not your password."))
        return password


@member_required
def account_delete(request: MemberRequest) -> HttpResponse:
    form = ErasureForm(request.POST or None, user=request.user)  # type: ignore[arg-type]
    if request.method == "POST" and form.is_valid():
        try:
            member_erasure_request(member=request.member)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Your account will be erased. You can still cancel until then."))
        return redirect("app:account-delete")
    return render(
        request,
        "app/account_delete.html",
        {
            "form": form,
            "due_at": member_erasure_due(member=request.member),
            "cancel_days": ERASURE_CANCEL_DAYS,
        },
        status=400 if form.errors else 200,
    )


@require_POST
@member_required
def account_delete_cancel(request: MemberRequest) -> HttpResponse:
    try:
        member_erasure_cancel(member=request.member)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Cancelled: your account stays as it is."))
    return redirect("app:account-delete")
