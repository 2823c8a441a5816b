"""The one place that decides whether a person or a key may act at a merchant."""

from typing import Any, TypeAlias

from django.contrib.auth.models import User

from perks.merchants.errors import MerchantSuspended, NotStaff, RoleForbids, ScopeMissing
from perks.merchants.models import ApiKey, AuditEntry, Merchant, MerchantStatus, Staff
from perks.merchants.permissions import PERMISSIONS_WHILE_SUSPENDED, SCOPE_FOR_PERMISSION, role_allows

Actor: TypeAlias = User | ApiKey


def staff_require(*, user: User, merchant: Merchant, permission: str) -> None:
    """Raise PermissionDenied unless `user`'s role at `merchant` grants `permission`.

    Operators (superusers) act for the platform at any merchant, as the admin console does.
    """
    _require_open(merchant, permission)
    if user.is_superuser and user.is_active:
        return
    role = (
        Staff.objects.filter(user=user, merchant=merchant).values_list("role", flat=True).first()
        if user.is_active
        else None
    )
    if role is None:
        raise NotStaff()
    if not role_allows(role, permission):
        raise RoleForbids(f"A {role} may not do this ({permission}).")


def api_key_require(*, key: ApiKey, merchant: Merchant, permission: str) -> None:
    _require_open(merchant, permission)
    if key.merchant_id != merchant.pk or key.is_revoked:
        raise ScopeMissing("This API key does not belong to this merchant.")
    scope = SCOPE_FOR_PERMISSION.get(permission)
    if scope is None:
        raise ScopeMissing("This can only be done by staff in the portal, not with an API key.")
    if scope not in key.scopes:
        raise ScopeMissing(f"This API key needs the {scope} scope.", param="scope")


def actor_require(*, actor: Actor, merchant: Merchant, permission: str) -> None:
    if isinstance(actor, ApiKey):
        api_key_require(key=actor, merchant=merchant, permission=permission)
    else:
        staff_require(user=actor, merchant=merchant, permission=permission)


def _require_open(merchant: Merchant, permission: str) -> None:
    if merchant.status == MerchantStatus.SUSPENDED and permission not in PERMISSIONS_WHILE_SUSPENDED:
        raise MerchantSuspended()


def audit_record(
    *,
    merchant: Merchant,
    actor: Actor | None,
    action: str,
    target: str = "",
    params: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        merchant=merchant,
        actor_user=actor if isinstance(actor, User) else None,
        actor_key=actor if isinstance(actor, ApiKey) else None,
        action=action,
        target=target,
        params=params or {},
    )
