from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from loyalty.core.errors import Conflict, Invalid, NotFound
from perks.merchants.errors import LastOwner
from perks.merchants.locks import merchant_lock
from perks.merchants.models import Merchant, Staff
from perks.merchants.permissions import Permission, Role
from perks.merchants.services.access import actor_require, audit_record


def staff_add(*, merchant: Merchant, user: User, role: str, actor: User) -> Staff:
    actor_require(actor=actor, merchant=merchant, permission=Permission.STAFF_MANAGE)
    _check_role(role)
    try:
        with transaction.atomic():
            staff = Staff.objects.create(merchant=merchant, user=user, role=role)
            audit_record(
                merchant=merchant,
                actor=actor,
                action="staff.added",
                target=str(user.pk),
                params={"role": role},
            )
    except IntegrityError:
        raise Conflict(f"{user.get_username()} is already staff here.", param="user") from None
    return staff


def staff_role_change(*, merchant: Merchant, user: User, role: str, actor: User) -> Staff:
    actor_require(actor=actor, merchant=merchant, permission=Permission.STAFF_MANAGE)
    _check_role(role)
    with transaction.atomic():
        merchant_lock(merchant.pk)
        staff = _staff_of(merchant, user)
        if staff.role == Role.OWNER and role != Role.OWNER:
            _keep_an_owner(merchant)
        previous, staff.role = staff.role, role
        Staff.objects.filter(pk=staff.pk).update(role=role)
        audit_record(
            merchant=merchant,
            actor=actor,
            action="staff.role_changed",
            target=str(user.pk),
            params={"from": previous, "to": role},
        )
    return staff


def staff_remove(*, merchant: Merchant, user: User, actor: User) -> None:
    actor_require(actor=actor, merchant=merchant, permission=Permission.STAFF_MANAGE)
    with transaction.atomic():
        merchant_lock(merchant.pk)
        staff = _staff_of(merchant, user)
        if staff.role == Role.OWNER:
            _keep_an_owner(merchant)
        staff.delete()
        audit_record(
            merchant=merchant,
            actor=actor,
            action="staff.removed",
            target=str(user.pk),
            params={"role": staff.role},
        )


def _staff_of(merchant: Merchant, user: User) -> Staff:
    staff = Staff.objects.filter(merchant=merchant, user=user).first()
    if staff is None:
        raise NotFound(f"{user.get_username()} is not staff here.", param="user")
    return staff


def _keep_an_owner(merchant: Merchant) -> None:
    if Staff.objects.filter(merchant=merchant, role=Role.OWNER).count() <= 1:
        raise LastOwner()


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise Invalid(f"Unknown role {role!r}; one of {', '.join(Role.values)}.", param="role")
