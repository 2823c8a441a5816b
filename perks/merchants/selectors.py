from django.contrib.auth.models import User
from django.db.models import QuerySet

from loyalty.core.errors import Invalid, NotFound
from perks.merchants.errors import MerchantNotFound
from perks.merchants.models import (
    ApiKey,
    AuditEntry,
    Location,
    Merchant,
    MerchantStatus,
    Staff,
    WebhookDelivery,
    WebhookEndpoint,
)


def merchant_by_ref(ref: str) -> Merchant:
    merchant = Merchant.objects.filter(ref=ref).first()
    if merchant is None:
        raise MerchantNotFound(param="merchant")
    return merchant


def merchant_by_slug(slug: str) -> Merchant:
    merchant = Merchant.objects.filter(slug=slug).first()
    if merchant is None:
        raise MerchantNotFound(param="merchant")
    return merchant


def merchants_active() -> QuerySet[Merchant]:
    """The merchants trading on the platform now, by name (a member picks one to share with)."""
    return Merchant.objects.filter(status=MerchantStatus.ACTIVE).order_by("name", "pk")


def staff_memberships(*, user: User) -> QuerySet[Staff]:
    """The merchants a person works at, with their role at each (the portal's switcher)."""
    return Staff.objects.filter(user=user).select_related("merchant").order_by("merchant__name")


def staff_of_merchant(*, merchant: Merchant) -> QuerySet[Staff]:
    return Staff.objects.filter(merchant=merchant).select_related("user")


def locations_of_merchant(*, merchant: Merchant, active_only: bool = True) -> QuerySet[Location]:
    locations = Location.objects.filter(merchant=merchant)
    return locations.filter(is_active=True) if active_only else locations


def location_by_ref(*, merchant: Merchant, ref: str) -> Location:
    """A location of this merchant; another merchant's is as unknown as one that does not exist."""
    location = Location.objects.filter(merchant=merchant, ref=ref).first()
    if location is None:
        raise NotFound("No such location.", param="location")
    return location


def location_by_code(*, merchant: Merchant, code: str | None) -> Location | None:
    """The active location of this merchant a till names by its code, None when it names
    none; a code it does not know is 400 `validation_error` on `location`."""
    if not code:
        return None
    location = Location.objects.filter(merchant=merchant, code=code.strip(), is_active=True).first()
    if location is None:
        raise Invalid(f"No location of yours has the code {code!r}.", param="location")
    return location


def api_keys_of_merchant(*, merchant: Merchant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(merchant=merchant).select_related("created_by")


def webhook_endpoints_of_merchant(*, merchant: Merchant) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(merchant=merchant)


def webhook_deliveries_of_merchant(
    *, merchant: Merchant, status: str | None = None
) -> QuerySet[WebhookDelivery]:
    """Newest first, with their attempts, for the portal's delivery log."""
    deliveries = (
        WebhookDelivery.objects.filter(endpoint__merchant=merchant)
        .select_related("event", "endpoint")
        .prefetch_related("attempts")
    )
    return deliveries.filter(status=status) if status else deliveries


def audit_entries_of_merchant(*, merchant: Merchant) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(merchant=merchant).select_related("actor_user", "actor_key")
