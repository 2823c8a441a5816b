"""Who may do what at a merchant, written once, as data.

A staff member's role grants a set of permissions; an API key's scopes grant the
permissions that the partner API exposes. `staff_require` and `actor_require` in the
services are the only places these tables are read.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager")
    CASHIER = "cashier", _("Cashier")


class Permission(models.TextChoices):
    MERCHANT_MANAGE = "merchant.manage", _("Edit the merchant's profile and logo")
    LOCATIONS_MANAGE = "locations.manage", _("Add and edit locations")
    PERKS_MANAGE = "perks.manage", _("Create, edit, pause and archive perks")
    VOUCHERS_ISSUE = "vouchers.issue", _("Issue vouchers and run campaigns")
    REDEMPTIONS_CREATE = "redemptions.create", _("Redeem and reserve vouchers")
    REDEMPTIONS_REVERSE = "redemptions.reverse", _("Reverse a redemption")
    DEPOSITS_MANAGE = "deposits.manage", _("Hold, release and capture deposits")
    EVENTS_RECORD = "events.record", _("Report members' events")
    HOLDS_MANAGE = "holds.manage", _("Place and lift holds on members' perks")
    KEYS_MANAGE = "keys.manage", _("Create and revoke API keys")
    WEBHOOKS_MANAGE = "webhooks.manage", _("Manage webhook endpoints")
    BILLING_VIEW = "billing.view", _("See invoices and usage")
    STAFF_MANAGE = "staff.manage", _("Add, change and remove staff")
    # The trail names who did what and on which voucher, key or member: not a till's business.
    AUDIT_VIEW = "audit.view", _("Read the audit trail")


class Scope(models.TextChoices):
    """What an API key may change (docs/integration.md); every key may read its own merchant's data."""

    REDEMPTIONS_WRITE = "redemptions:write"
    VOUCHERS_WRITE = "vouchers:write"
    PERKS_WRITE = "perks:write"
    EVENTS_WRITE = "events:write"
    DEPOSITS_WRITE = "deposits:write"
    WEBHOOKS_WRITE = "webhooks:write"
    HOLDS_WRITE = "holds:write"


_CASHIER = frozenset({Permission.REDEMPTIONS_CREATE, Permission.DEPOSITS_MANAGE})
_MANAGER = _CASHIER | {
    Permission.MERCHANT_MANAGE,
    Permission.LOCATIONS_MANAGE,
    Permission.PERKS_MANAGE,
    Permission.VOUCHERS_ISSUE,
    Permission.REDEMPTIONS_REVERSE,
    Permission.EVENTS_RECORD,
    Permission.HOLDS_MANAGE,
    Permission.BILLING_VIEW,
    Permission.AUDIT_VIEW,
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(Permission),
    Role.MANAGER: _MANAGER,
    Role.CASHIER: _CASHIER,
}

# Permissions a key can be given; the rest (keys, staff, billing) need a person in the portal.
SCOPE_FOR_PERMISSION: dict[str, str] = {
    Permission.PERKS_MANAGE: Scope.PERKS_WRITE,
    Permission.VOUCHERS_ISSUE: Scope.VOUCHERS_WRITE,
    Permission.REDEMPTIONS_CREATE: Scope.REDEMPTIONS_WRITE,
    Permission.REDEMPTIONS_REVERSE: Scope.REDEMPTIONS_WRITE,
    Permission.DEPOSITS_MANAGE: Scope.DEPOSITS_WRITE,
    Permission.EVENTS_RECORD: Scope.EVENTS_WRITE,
    Permission.WEBHOOKS_MANAGE: Scope.WEBHOOKS_WRITE,
    Permission.HOLDS_MANAGE: Scope.HOLDS_WRITE,
}

# A merchant the operator suspended may still see what it owes, and nothing more.
PERMISSIONS_WHILE_SUSPENDED = frozenset({Permission.BILLING_VIEW})


def role_allows(role: str, permission: str) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
