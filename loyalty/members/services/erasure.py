"""Erasure (GDPR Art. 17): the member asks in the app and has ERASURE_CANCEL_DAYS to change
their mind; then a job pseudonymises them. An operator carries out a verified request at
once (the admin).

The member's `ref` stays as the pseudonym, so ledgers, redemptions and billing usage still
balance and still point somewhere; whatever says who the member is goes. The member side
announces `member_erased` inside the erasing transaction and each app pseudonymises its own
rows (`members` imports neither scoring nor points); then the member side ends the links,
telling each merchant linked with the member (`member.erased`), and removes its own rows.
An erased member is left as they are, so a second run changes nothing.

The look-up log goes too: its table is append-only, and PostgreSQL lets a row of it be
deleted only once its member is marked erased (members migration 0010), so the member is
marked first.

The member's row is locked first (FOR NO KEY UPDATE, as a claim locks it): a claim in
flight finishes first, and its voucher is revoked with the others, or waits and then finds
the wallet empty.
"""

from datetime import datetime, timedelta

from django.contrib.admin.models import LogEntry
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from loyalty.core.events import merchant_notify
from loyalty.members.errors import MemberErased
from loyalty.members.events import member_erased
from loyalty.members.models import LinkEnd, Member, MemberLookup, MemberPass, MerchantLink, Notification

ERASURE_CANCEL_DAYS = 7
ERASED_USERNAME_PREFIX = "erased-"


def member_erasure_due(*, member: Member) -> datetime | None:
    """When the member's pending request is carried out; None when none is pending."""
    if member.erasure_requested_at is None or member.erased_at is not None:
        return None
    return member.erasure_requested_at + timedelta(days=ERASURE_CANCEL_DAYS)


def member_erasure_request(*, member: Member, now: datetime | None = None) -> Member:
    """Start the days to cancel. Asking again keeps the first date, so the day the member
    was shown does not move."""
    with transaction.atomic():
        locked = _member_locked(member.pk)
        if locked.erased_at is not None:
            raise MemberErased
        if locked.erasure_requested_at is None:
            locked.erasure_requested_at = now or timezone.now()
            locked.save(update_fields=["erasure_requested_at"])
    return locked


def member_erasure_cancel(*, member: Member) -> Member:
    """Withdraw a pending request; with none pending, nothing changes."""
    with transaction.atomic():
        locked = _member_locked(member.pk)
        if locked.erased_at is not None:
            raise MemberErased
        if locked.erasure_requested_at is not None:
            locked.erasure_requested_at = None
            locked.save(update_fields=["erasure_requested_at"])
    return locked


def member_erase(*, member: Member, now: datetime | None = None) -> bool:
    """Erase the member now, whatever their request's date (an operator, for a request
    whose identity was verified); False when they were erased already."""
    return _erase(member.pk, now or timezone.now(), requested_by=None)


def members_erase_due(*, now: datetime | None = None) -> int:
    """Erase every member whose request has passed its days to cancel, one transaction
    each; how many were erased."""
    now = now or timezone.now()
    requested_by = now - timedelta(days=ERASURE_CANCEL_DAYS)
    due = Member.objects.filter(erased_at__isnull=True, erasure_requested_at__lte=requested_by)
    return sum(
        _erase(member_id, now, requested_by=requested_by)
        for member_id in list(due.order_by("pk").values_list("pk", flat=True))
    )


def _erase(member_id: int, now: datetime, *, requested_by: datetime | None) -> bool:
    with transaction.atomic():
        member = _member_locked(member_id)
        if member.erased_at is not None:
            return False
        if requested_by is not None and not (
            member.erasure_requested_at is not None and member.erasure_requested_at <= requested_by
        ):
            return False  # cancelled while the job was on its way
        # Marked erased first: the database lets the history of an erased member be
        # deleted (its look-ups here, its score snapshots on the scoring side), and no
        # other's. The apps go next: finishing what the member's last redemptions still
        # owed writes rows of this side (a notification, a look-up), which go below.
        Member.objects.filter(pk=member.pk).update(
            erasure_requested_at=member.erasure_requested_at or now, erased_at=now
        )
        member_erased.send(sender=Member, member=member, at=now)
        _links_end(member, now)
        MemberPass.objects.filter(member=member).delete()
        Notification.objects.filter(member=member).delete()
        MemberLookup.objects.filter(member=member).delete()
        _user_pseudonymise(member.user, member.ref, now)
        Member.objects.filter(pk=member.pk).update(
            display_name="", phone="", email_verified=False, phone_verified=False
        )
    return True


def _member_locked(member_id: int) -> Member:
    return (
        Member.objects.select_for_update(no_key=True, of=("self",)).select_related("user").get(pk=member_id)
    )


def _links_end(member: Member, now: datetime) -> None:
    """End the active links, each merchant told to delete what it keeps about the ref."""
    links = list(
        MerchantLink.objects.select_for_update(of=("self",))
        .filter(member=member, ended_at__isnull=True)
        .order_by("pk")
    )
    MerchantLink.objects.filter(pk__in=[link.pk for link in links]).update(
        ended_at=now, ended_by=LinkEnd.ERASURE
    )
    for merchant_ref in sorted({link.merchant_ref for link in links}):
        merchant_notify(merchant_ref=merchant_ref, type="member.erased", data={"member": member.ref})


def _user_pseudonymise(user: User, ref: str, now: datetime) -> None:
    """No login, no name, no address: the username becomes the pseudonym, which is unique
    because the ref is."""
    user.username = f"{ERASED_USERNAME_PREFIX}{ref}"
    user.email = user.first_name = user.last_name = ""
    user.is_active = user.is_staff = user.is_superuser = False
    user.last_login = None
    user.set_unusable_password()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()
    _sessions_end(user.pk, now)
    # The operator console's history names a changed user by what its username was.
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=str(user.pk)
    ).update(object_repr=user.username)


def _sessions_end(user_id: int, now: datetime) -> None:
    """Delete the member's sessions. They are not indexed by user, so the live ones are
    read; the new password hash alone already makes Django refuse every one of them."""
    ended = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=now).iterator()
        if session.get_decoded().get(SESSION_KEY) == str(user_id)
    ]
    Session.objects.filter(pk__in=ended).delete()
