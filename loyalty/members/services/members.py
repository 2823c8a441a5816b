"""Members: joining, consent, the member pass and the look-up log of partners."""

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.core.sql import row_insert
from loyalty.members.errors import MemberExists, MemberPassInvalid
from loyalty.members.events import check_verified, consent_changed, member_joined
from loyalty.members.models import (
    Consent,
    ConsentChange,
    ConsentSource,
    Dimension,
    Locale,
    LookupPurpose,
    Member,
    MemberLookup,
    MemberPass,
)

_PASS_SALT = "perkline.members.pass"  # noqa: S105  # nosec B105  # a namespace for signatures, not a secret
_VERIFICATIONS = {"email": "email_verified", "phone": "phone_verified", "identity": None}


def member_create(
    *,
    user: User,
    locale: str = Locale.ENGLISH,
    display_name: str = "",
    phone: str = "",
    consents: Iterable[str] = (),
) -> Member:
    """A new member (the scoring side gives them the baseline score on `member_joined`);
    `consents` are dimensions shared from the start."""
    if locale not in Locale.values:
        raise Invalid(f"Locale is one of {', '.join(Locale.values)}.", param="locale")
    with transaction.atomic():
        try:
            with transaction.atomic():
                member = Member.objects.create(
                    user=user, locale=locale, display_name=display_name, phone=phone
                )
        except IntegrityError as exc:
            raise MemberExists from exc
        member_joined.send(sender=Member, member=member)
        for dimension in consents:
            consent_set(member=member, dimension=dimension, granted=True, source=ConsentSource.SIGNUP)
    return member


def consent_set(*, member: Member, dimension: str, granted: bool, source: str) -> Consent:
    """Record a consent choice and its history; a change has the member recomputed."""
    if dimension not in Dimension.values:
        raise Invalid(f"Dimension is one of {', '.join(Dimension.values)}.", param="dimension")
    if source not in ConsentSource.values:
        raise Invalid(f"Source is one of {', '.join(ConsentSource.values)}.", param="source")
    now = timezone.now()
    with transaction.atomic():
        consent, created = Consent.objects.select_for_update().get_or_create(
            member=member, dimension=dimension, defaults={"granted": granted, "changed_at": now}
        )
        if not created and consent.granted == granted:
            return consent
        if not created:
            consent.granted, consent.changed_at = granted, now
            consent.save(update_fields=["granted", "changed_at"])
        ConsentChange.objects.create(
            member=member, dimension=dimension, granted=granted, source=source, changed_at=now
        )
        consent_changed.send(sender=Member, member_id=member.pk, dimension=dimension, granted=granted)
    return consent


def member_locale_set(*, member: Member, locale: str) -> None:
    """The language the app, its e-mails and its messages speak to the member in."""
    if locale not in Locale.values:
        raise Invalid(f"Locale is one of {', '.join(Locale.values)}.", param="locale")
    Member.objects.filter(pk=member.pk).update(locale=locale)
    member.locale = locale


def member_verification_record(*, member: Member, check: str, now: datetime | None = None) -> None:
    """Email, phone or identity verified: set the flag and announce it (the scoring side
    records the platform's score event)."""
    if check not in _VERIFICATIONS:
        raise Invalid(f"Check is one of {', '.join(_VERIFICATIONS)}.", param="check")
    now = now or timezone.now()
    with transaction.atomic():
        if flag := _VERIFICATIONS[check]:
            Member.objects.filter(pk=member.pk).update(**{flag: True})
        check_verified.send(sender=Member, member=member, check=check, verified_at=now)


def member_pass_issue(*, member: Member) -> str:
    """A signed token valid for MEMBER_PASS_TTL_SECONDS, shown as a rotating QR code.

    It carries a random id, not the member's ref, so whoever sees the code learns nothing
    that outlives it.
    """
    token_id = secrets.token_urlsafe(16)
    expires_at = timezone.now() + timedelta(seconds=settings.MEMBER_PASS_TTL_SECONDS)
    MemberPass.objects.create(token_id=token_id, member=member, expires_at=expires_at)
    return signing.TimestampSigner(salt=_PASS_SALT).sign(token_id)


def member_pass_verify(*, token: str) -> Member:
    """The member a pass belongs to; refuses an expired, tampered or unknown pass."""
    try:
        token_id = signing.TimestampSigner(salt=_PASS_SALT).unsign(
            token, max_age=timedelta(seconds=settings.MEMBER_PASS_TTL_SECONDS)
        )
    except signing.BadSignature as exc:
        raise MemberPassInvalid from exc
    issued = MemberPass.objects.select_related("member").filter(
        token_id=token_id, expires_at__gt=timezone.now()
    )
    member_pass = issued.first()
    if member_pass is None:
        raise MemberPassInvalid
    return member_pass.member


def member_passes_purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    deleted, _ = MemberPass.objects.filter(expires_at__lt=timezone.now() - older_than).delete()
    return deleted


def member_lookup_record(
    *, member: Member, merchant_ref: str, merchant_name: str, purpose: str, at: datetime | None = None
) -> MemberLookup:
    """A partner looked the member up (`at`, now by default): the member can read who, why
    and when."""
    if purpose not in LookupPurpose.values:
        raise Invalid(f"Purpose is one of {', '.join(LookupPurpose.values)}.", param="purpose")
    lookup = MemberLookup(
        member=member,
        merchant_ref=merchant_ref,
        merchant_name=merchant_name,
        purpose=purpose,
        looked_up_at=at or timezone.now(),
    )
    row_insert(lookup)  # on every partner request that names a member: spared the ORM's compiler
    return lookup
