"""Invitations to a merchant's staff: an owner invites an e-mail address in a role, and
whoever holds that mailbox joins by the mailed link, with a new account or the one the
address already signs in with.

The token is 256 random bits, so, as for API keys, a fast hash is the right one: only its
SHA-256 is kept, and the link is the only copy. It works once, for `INVITATION_LIFETIME`;
a merchant has at most one pending invitation per address (a constraint), and inviting an
address again after its invitation expired replaces that one. The mail itself is the
surface's to write, since the link is a URL of the surface.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from loyalty.core.crypto import secret_digest
from loyalty.core.errors import Conflict, Invalid, NotFound
from perks.merchants.errors import InvitationClosed
from perks.merchants.models import Invitation, InvitationStatus, Merchant, Staff
from perks.merchants.permissions import Permission, Role
from perks.merchants.services.access import actor_require, audit_record

INVITATION_LIFETIME = timedelta(days=7)
NAME_MAX = 150


@dataclass(frozen=True)
class CreatedInvitation:
    invitation: Invitation
    token: str  # the only copy: it goes into the mail and nowhere else


def staff_invite(*, merchant: Merchant, actor: User, email: str, role: str) -> CreatedInvitation:
    """A new invitation of `email` to the staff in `role`; refused for someone already staff
    here or already invited and not yet answered (revoke that invitation to send another)."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.STAFF_MANAGE)
    email = _email(email)
    if role not in Role.values:
        raise Invalid(f"Unknown role {role!r}; one of {', '.join(Role.values)}.", param="role")
    if Staff.objects.filter(merchant=merchant).filter(_user_with_email(email, prefix="user__")).exists():
        raise Conflict(f"{email} is already staff here: change their role instead.", param="email")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    try:
        with transaction.atomic():
            _expire_stale(merchant, email, now)
            invitation = Invitation.objects.create(
                merchant=merchant,
                email=email,
                role=role,
                token_hash=secret_digest(token),
                invited_by=actor,
                created_at=now,
                expires_at=now + INVITATION_LIFETIME,
            )
            audit_record(
                merchant=merchant,
                actor=actor,
                action="staff.invited",
                target=email,
                params={"role": role},
            )
    except IntegrityError:
        raise Conflict(
            f"{email} is already invited: revoke that invitation to send a new one.", param="email"
        ) from None
    return CreatedInvitation(invitation=invitation, token=token)


def invitation_revoke(*, invitation: Invitation, actor: User) -> Invitation:
    """The link of a pending invitation stops working; an answered one cannot be revoked."""
    merchant = invitation.merchant
    actor_require(actor=actor, merchant=merchant, permission=Permission.STAFF_MANAGE)
    now = timezone.now()
    with transaction.atomic():
        revoked = Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.PENDING).update(
            status=InvitationStatus.REVOKED, ended_at=now
        )
        if not revoked:
            raise Conflict("This invitation was already answered or revoked.")
        audit_record(
            merchant=merchant,
            actor=actor,
            action="staff.invitation_revoked",
            target=invitation.email,
            params={"role": invitation.role},
        )
    invitation.status, invitation.ended_at = InvitationStatus.REVOKED, now
    return invitation


def invitation_by_token(*, token: str) -> Invitation:
    """The pending invitation `token` opens; InvitationClosed says why one no longer does
    (used, revoked, expired), NotFound that the token names none."""
    invitation = Invitation.objects.select_related("merchant").filter(token_hash=secret_digest(token)).first()
    if invitation is None:
        raise NotFound("This invitation link is not valid: check that the whole link was copied.")
    _check_open(invitation, timezone.now())
    return invitation


def invitation_accept(*, token: str, user: User) -> Staff:
    """`user`, who signs in with the invited address, joins the staff in the invited role."""
    with transaction.atomic():
        invitation = _lock_open(token)
        if not invitation_is_for(invitation=invitation, user=user):
            raise Conflict(
                f"This invitation is for {invitation.email}: sign in with that address to accept it.",
                param="email",
            )
        return _join(invitation, user)


def invitation_accept_new(*, token: str, name: str, password: str) -> Staff:
    """A new account for the invited address, with `name` and `password`, joins the staff.
    An address that already has an account signs in with it instead."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise Invalid(f"Give your name, in 1–{NAME_MAX} characters.", param="name")
    with transaction.atomic():
        invitation = _lock_open(token)
        email = invitation.email
        if invitation_account_exists(invitation=invitation):
            raise Conflict(f"{email} already has an account: sign in with it to accept.", param="email")
        user = get_user_model()(username=email, email=email, first_name=name)
        try:
            validate_password(password, user)
        except ValidationError as refused:
            raise Invalid(" ".join(refused.messages), param="password") from None
        user.set_password(password)
        user.save()
        return _join(invitation, user)


def _join(invitation: Invitation, user: User) -> Staff:
    merchant = invitation.merchant
    try:
        with transaction.atomic():
            staff = Staff.objects.create(merchant=merchant, user=user, role=invitation.role)
    except IntegrityError:
        raise Conflict("You are already staff here.", param="email") from None
    now = timezone.now()
    Invitation.objects.filter(pk=invitation.pk).update(
        status=InvitationStatus.ACCEPTED, ended_at=now, accepted_by=user
    )
    audit_record(
        merchant=merchant,
        actor=user,
        action="staff.joined",
        target=str(user.pk),
        params={"role": invitation.role, "email": invitation.email},
    )
    return staff


def _lock_open(token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("merchant")
        .filter(token_hash=secret_digest(token))
        .first()
    )
    if invitation is None:
        raise NotFound("This invitation link is not valid: check that the whole link was copied.")
    _check_open(invitation, timezone.now())
    return invitation


def _check_open(invitation: Invitation, now: datetime) -> None:
    if invitation.status == InvitationStatus.PENDING and invitation.expires_at <= now:
        raise InvitationClosed(InvitationStatus.EXPIRED)
    if invitation.status != InvitationStatus.PENDING:
        raise InvitationClosed(invitation.status)


def _expire_stale(merchant: Merchant, email: str, now: datetime) -> None:
    """An expired invitation of the same address gives way to the new one."""
    Invitation.objects.filter(
        merchant=merchant, email=email, status=InvitationStatus.PENDING, expires_at__lte=now
    ).update(status=InvitationStatus.EXPIRED, ended_at=now)


def _email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise Invalid("Give an e-mail address, such as name@example.com.", param="email") from None
    return email


def _user_with_email(email: str, prefix: str = "") -> Q:
    """People sign in with their address as their username; either names them."""
    return Q(**{f"{prefix}username__iexact": email}) | Q(**{f"{prefix}email__iexact": email})


def invitation_is_for(*, invitation: Invitation, user: User) -> bool:
    """Whether `user` signs in with the invited address, and so may accept it."""
    return invitation.email in {user.get_username().lower(), (user.email or "").lower()}


def invitation_account_exists(*, invitation: Invitation) -> bool:
    """Whether the invited address already signs in: then it accepts by signing in."""
    return get_user_model().objects.filter(_user_with_email(invitation.email)).exists()
