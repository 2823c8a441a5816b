"""Staff in the portal: owners see who works at the merchant, invite people by e-mail in a
role, change roles, remove staff and revoke invitations; the invited person answers at a
page of their own, outside any merchant, since they are not staff yet.

The rules (who may, one pending invitation per address, an owner always remains) are the
services' (perks/merchants/services/staff.py and invitations.py). The invitation mail is
written here, like Django's password-reset mail, because its link is a URL of the portal;
it is sent once the invitation is committed, and a mail server that is down does not undo
the invitation (the page says so, and the owner may revoke it and invite again).
"""

import logging

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from loyalty.core.errors import DomainError, NotFound
from perks.merchants.errors import InvitationClosed
from perks.merchants.models import Staff
from perks.merchants.permissions import Permission, Role
from perks.merchants.selectors import (
    invitation_of_merchant,
    invitations_pending,
    staff_member_of_merchant,
    staff_of_merchant,
)
from perks.merchants.services import (
    CreatedInvitation,
    invitation_accept,
    invitation_accept_new,
    invitation_by_token,
    invitation_revoke,
    staff_invite,
    staff_remove,
    staff_role_change,
)
from perks.merchants.services.invitations import (
    INVITATION_LIFETIME,
    invitation_account_exists,
    invitation_is_for,
)
from surfaces.portal.access import StaffRequest, portal_page
from surfaces.portal.pages import attempt, page_of
from surfaces.portal.people_forms import InviteForm, JoinForm, RemoveForm, RoleForm

logger = logging.getLogger(__name__)

# A backend to sign in a person who has just set their password on the invitation page.
_SIGN_IN_BACKEND = "django.contrib.auth.backends.ModelBackend"


@never_cache
@portal_page(permission=Permission.STAFF_MANAGE)
def staff(request: StaffRequest) -> HttpResponse:
    """The merchant's staff and pending invitations, and a new invitation."""
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = _invite(request, form)
        if created is not None:
            _mail(request, created)
            return redirect("portal:staff", slug=request.merchant.slug)
    people = page_of(request, staff_of_merchant(merchant=request.merchant).order_by("role", "user__email"))
    return render(
        request,
        "portal/staff.html",
        {
            "people": people,
            "invitations": list(invitations_pending(merchant=request.merchant)),
            "form": form,
            "roles": Role.choices,
            "remove_form": RemoveForm(),
        },
    )


@require_POST
@portal_page(permission=Permission.STAFF_MANAGE)
def staff_role(request: StaffRequest, staff_id: int) -> HttpResponse:
    member = _staff_member(request, staff_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the roles; nothing was changed."))
    else:
        role = form.cleaned_data["role"]
        attempt(
            request,
            lambda: staff_role_change(
                merchant=request.merchant, user=member.user, role=role, actor=request.user
            ),
            _("%(name)s is now %(role)s.") % {"name": _name(member.user), "role": Role(role).label},
        )
    return _after_change(request, member)


@require_POST
@portal_page(permission=Permission.STAFF_MANAGE)
def staff_remove_view(request: StaffRequest, staff_id: int) -> HttpResponse:
    member = _staff_member(request, staff_id)
    if not RemoveForm(request.POST).is_valid():
        messages.error(request, _("Tick the box to confirm the removal; nothing was changed."))
    else:
        attempt(
            request,
            lambda: staff_remove(merchant=request.merchant, user=member.user, actor=request.user),
            _("%(name)s no longer works here.") % {"name": _name(member.user)},
        )
    return _after_change(request, member)


@require_POST
@portal_page(permission=Permission.STAFF_MANAGE)
def invitation_revoke_view(request: StaffRequest, invitation_id: int) -> HttpResponse:
    try:
        invitation = invitation_of_merchant(merchant=request.merchant, pk=invitation_id)
    except NotFound:
        raise Http404 from None
    attempt(
        request,
        lambda: invitation_revoke(invitation=invitation, actor=request.user),
        _("The invitation of %(email)s is revoked: its link no longer works.") % {"email": invitation.email},
    )
    return redirect("portal:staff", slug=request.merchant.slug)


@never_cache
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Where the mailed link leads: a new account's name and password, or, for an address
    that already has one, joining once signed in with it."""
    try:
        found = invitation_by_token(token=token)
    except InvitationClosed as closed:
        return _closed(request, closed.status)
    except NotFound:
        return _closed(request, "unknown", status=404)
    user = request.user if request.user.is_authenticated else None
    form = JoinForm(request.POST or None)
    if request.method == "POST":
        joined = _join(request, token, user, form)
        if joined is not None:
            return _welcome(request, joined)
    return render(
        request,
        "portal/invitation.html",
        {
            "invitation": found,
            "form": form,
            "signed_in_as": user,
            "is_invited_person": user is not None and invitation_is_for(invitation=found, user=user),
            "has_account": user is None and invitation_account_exists(invitation=found),
            "login_url": f"{reverse('portal:login')}?next={request.path}",
        },
        status=400 if form.errors else 200,
    )


def _invite(request: StaffRequest, form: InviteForm) -> CreatedInvitation | None:
    try:
        return staff_invite(
            merchant=request.merchant,
            actor=request.user,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
        )
    except DomainError as refused:
        form.add_error(refused.param if refused.param in form.fields else None, refused.message)
        return None


def _mail(request: StaffRequest, created: CreatedInvitation) -> None:
    invitation = created.invitation
    context = {
        "merchant": request.merchant.name,
        "inviter": _name(request.user),
        "role": Role(invitation.role).label,
        "link": request.build_absolute_uri(reverse("portal:invitation", args=[created.token])),
        "days": INVITATION_LIFETIME.days,
    }
    subject = render_to_string("portal/invitation_subject.txt", context).strip()
    body = render_to_string("portal/invitation_email.txt", context)
    try:
        send_mail(subject, body, None, [invitation.email])
    except Exception:  # the invitation stands; the owner is told, and may send another
        logger.exception("invitation mail not sent", extra={"invitation": invitation.pk})
        messages.warning(
            request,
            _(
                "The invitation is made, but the mail to %(email)s could not be sent. "
                "Revoke it and invite again in a while."
            )
            % {"email": invitation.email},
        )
        return
    messages.success(
        request,
        _("Invitation sent to %(email)s. The link works for %(days)s days.")
        % {"email": invitation.email, "days": INVITATION_LIFETIME.days},
    )


def _join(request: HttpRequest, token: str, user: User | None, form: JoinForm) -> Staff | None:
    """Accept as the signed-in person, or with a new account from `form`."""
    if user is None and not form.is_valid():
        return None
    try:
        if user is not None:
            return invitation_accept(token=token, user=user)
        return invitation_accept_new(
            token=token, name=form.cleaned_data["name"], password=form.cleaned_data["password"]
        )
    except DomainError as refused:
        if user is not None:
            messages.error(request, refused.message)
        else:
            form.add_error(refused.param if refused.param in form.fields else None, refused.message)
        return None


def _welcome(request: HttpRequest, joined: Staff) -> HttpResponse:
    if not request.user.is_authenticated:
        login(request, joined.user, backend=_SIGN_IN_BACKEND)
    messages.success(
        request,
        _("Welcome to %(merchant)s: you work here as %(role)s.")
        % {"merchant": joined.merchant.name, "role": joined.get_role_display()},
    )
    first_page = "portal:counter" if joined.role == Role.CASHIER else "portal:dashboard"
    return redirect(first_page, slug=joined.merchant.slug)


def _closed(request: HttpRequest, why: str, status: int = 410) -> HttpResponse:
    return render(request, "portal/invitation_closed.html", {"why": why}, status=status)


def _staff_member(request: StaffRequest, staff_id: int) -> Staff:
    try:
        return staff_member_of_merchant(merchant=request.merchant, pk=staff_id)
    except NotFound:
        raise Http404 from None


def _after_change(request: StaffRequest, member: Staff) -> HttpResponse:
    """Back to the staff page, unless the person just changed their own place and may no
    longer open it."""
    if member.user_id == request.user.pk:
        return redirect("portal:home")
    return redirect("portal:staff", slug=request.merchant.slug)


def _name(user: User) -> str:
    return user.get_full_name() or user.get_username()
