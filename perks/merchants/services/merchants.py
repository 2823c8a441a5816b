import re
from datetime import datetime
from typing import IO

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from loyalty.core.errors import Conflict, Invalid
from perks.merchants import images
from perks.merchants.models import Category, Location, Merchant, MerchantStatus, Staff
from perks.merchants.permissions import Permission, Role
from perks.merchants.services.access import Actor, actor_require, audit_record
from perks.merchants.tasks import image_files_delete, image_renditions_make

LOCATION_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,15}$")


def merchant_create(
    *,
    name: str,
    category: str,
    owner: User,
    actor: User | None = None,
    slug: str = "",
) -> Merchant:
    """A new merchant with `owner` as its first owner (a merchant always has one).

    Merchants are signed up by the operator; `actor` is who did it, for the audit trail.
    """
    name = _required_text(name, "name", 120)
    if category not in Category.values:
        raise Invalid(
            f"Unknown category {category!r}; one of {', '.join(Category.values)}.", param="category"
        )
    slug = slug or slugify(name)[:64]
    if not slug or slugify(slug) != slug:
        raise Invalid("A slug is lowercase letters, digits and hyphens.", param="slug")
    try:
        with transaction.atomic():
            merchant = Merchant.objects.create(name=name, slug=slug, category=category)
            Staff.objects.create(user=owner, merchant=merchant, role=Role.OWNER)
            audit_record(
                merchant=merchant, actor=actor, action="merchant.created", params={"owner": owner.pk}
            )
    except IntegrityError:
        raise Invalid(f"The slug {slug!r} is taken.", param="slug") from None
    return merchant


def merchant_update(*, merchant: Merchant, actor: Actor, name: str | None = None) -> Merchant:
    actor_require(actor=actor, merchant=merchant, permission=Permission.MERCHANT_MANAGE)
    if name is not None:
        merchant.name = _required_text(name, "name", 120)
        with transaction.atomic():
            Merchant.objects.filter(pk=merchant.pk).update(name=merchant.name)
            audit_record(merchant=merchant, actor=actor, action="merchant.updated", params={"name": name})
    return merchant


def merchant_status_set(*, merchant: Merchant, status: str, actor: User | None, reason: str) -> Merchant:
    """Suspend, pause for billing or restore a merchant: the operator's and billing's lever."""
    if status not in MerchantStatus.values:
        raise Invalid(f"Unknown status {status!r}.", param="status")
    reason = _required_text(reason, "reason", 200)
    with transaction.atomic():
        previous = Merchant.objects.select_for_update().values_list("status", flat=True).get(pk=merchant.pk)
        if previous == status:
            raise Conflict(f"The merchant is already {status}.", param="status")
        Merchant.objects.filter(pk=merchant.pk).update(status=status)
        audit_record(
            merchant=merchant,
            actor=actor,
            action="merchant.status_changed",
            params={"from": previous, "to": status, "reason": reason},
        )
    merchant.status = status
    return merchant


def merchant_logo_set(*, merchant: Merchant, actor: Actor, upload: IO[bytes] | bytes) -> Merchant:
    """Replace the logo with a cleaned copy of `upload`; its display sizes follow in a task."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.MERCHANT_MANAGE)
    clean = images.image_clean(upload, param="logo")
    with transaction.atomic():
        previous = Merchant.objects.select_for_update().values_list("logo", flat=True).get(pk=merchant.pk)
        name = images.image_store(clean=clean, directory=logo_directory(merchant.ref))
        Merchant.objects.filter(pk=merchant.pk).update(logo=name)
        audit_record(merchant=merchant, actor=actor, action="merchant.logo_set", target=name)
        image_renditions_make.delay_on_commit(name, "logo")
        if previous:
            image_files_delete.delay_on_commit(previous, "logo")
    merchant.logo.name = name
    return merchant


def logo_directory(ref: str) -> str:
    """Where a merchant's logos are stored: its own folder, which holds nothing else."""
    return f"merchants/{ref}/logo"


def merchant_logos_sweep(*, now: datetime | None = None) -> images.Swept:
    """The renditions and deletions of logos whose tasks a broker that was down never queued."""
    return images.images_sweep(
        owners=Merchant.objects.all(), field="logo", kind="logo", directory=logo_directory, now=now
    )


def location_create(*, merchant: Merchant, actor: Actor, name: str, code: str, address: str = "") -> Location:
    actor_require(actor=actor, merchant=merchant, permission=Permission.LOCATIONS_MANAGE)
    code = _location_code(code)
    try:
        with transaction.atomic():
            location = Location.objects.create(
                merchant=merchant,
                name=_required_text(name, "name", 120),
                address=address.strip()[:300],
                code=code,
            )
            audit_record(merchant=merchant, actor=actor, action="location.created", target=location.ref)
    except IntegrityError:
        raise Invalid(f"Another location already has the code {code}.", param="code") from None
    return location


def location_update(*, location: Location, actor: Actor, name: str, code: str, address: str = "") -> Location:
    """New name, code and address for a location; its ref, which redemptions keep, stays."""
    merchant = location.merchant
    actor_require(actor=actor, merchant=merchant, permission=Permission.LOCATIONS_MANAGE)
    fields = {
        "name": _required_text(name, "name", 120),
        "code": _location_code(code),
        "address": address.strip()[:300],
    }
    changed = {field: value for field, value in fields.items() if getattr(location, field) != value}
    if not changed:
        return location
    try:
        with transaction.atomic():
            Location.objects.filter(pk=location.pk).update(**changed)
            audit_record(
                merchant=merchant, actor=actor, action="location.updated", target=location.ref, params=changed
            )
    except IntegrityError:
        raise Invalid(f"Another location already has the code {fields['code']}.", param="code") from None
    for field, value in changed.items():
        setattr(location, field, value)
    return location


def location_set_active(*, location: Location, actor: Actor, active: bool) -> Location:
    actor_require(actor=actor, merchant=location.merchant, permission=Permission.LOCATIONS_MANAGE)
    with transaction.atomic():
        Location.objects.filter(pk=location.pk).update(is_active=active)
        audit_record(
            merchant=location.merchant,
            actor=actor,
            action="location.activated" if active else "location.deactivated",
            target=location.ref,
        )
    location.is_active = active
    return location


def _location_code(code: str) -> str:
    code = code.strip().upper()
    if not LOCATION_CODE.match(code):
        raise Invalid("A location code is 1–16 letters, digits or hyphens, such as PVG-T2.", param="code")
    return code


def _required_text(value: str, param: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid(f"{param.capitalize()} is required.", param=param)
    if len(value) > max_length:
        raise Invalid(f"{param.capitalize()} is at most {max_length} characters.", param=param)
    return value
