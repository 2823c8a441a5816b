"""Deleting the account (GDPR Art. 17): the member re-enters their password, is offered the
download of their data first, and has days to cancel before a job erases them
(loyalty/members/services/erasure.py). Until then the page shows the day and a Cancel button.

The password is the app's re-authentication (loyalty/core/reauth.py): the form carries the
field unless the member confirmed their password in the last few minutes.
"""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from loyalty.core.errors import DomainError
from loyalty.core.reauth import password_recently_confirmed
from loyalty.members.services import member_erasure_cancel, member_erasure_due, member_erasure_request
from loyalty.members.services.erasure import ERASURE_CANCEL_DAYS
from surfaces.app.access import MemberRequest, member_required
from surfaces.app.account import password_required


@member_required
@password_required
def account_delete(request: MemberRequest) -> HttpResponse:
    if request.method == "POST":
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
            "due_at": member_erasure_due(member=request.member),
            "cancel_days": ERASURE_CANCEL_DAYS,
            "password_confirmed": password_recently_confirmed(request),
        },
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
