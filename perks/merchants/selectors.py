from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone

from loyalty.core.errors import Invalid, NotFound
from perks.merchants.errors import MerchantNotFound
from perks.merchants.models import (
    ApiKey,
    AuditEntry,
    Invitation,
    InvitationStatus,
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


def invitations_pending(*, merchant: Merchant) -> QuerySet[Invitation]:
    """The invitations of the merchant still waiting for an answer, newest first."""
    return Invitation.objects.filter(
        merchant=merchant, status=InvitationStatus.PENDING, expires_at__gt=timezone.now()
    ).select_related("invited_by")


def invitation_of_merchant(*, merchant: Merchant, pk: int) -> Invitation:
    invitation = Invitation.objects.filter(merchant=merchant, pk=pk).select_related("merchant").first()
    if invitation is None:
        raise NotFound("No such invitation.", param="invitation")
    return invitation


def staff_member_of_merchant(*, merchant: Merchant, pk: int) -> Staff:
    """One of the merchant's staff; another merchant's is as unknown as nobody."""
    staff = Staff.objects.filter(merchant=merchant, pk=pk).select_related("user").first()
    if staff is None:
        raise NotFound("No such member of staff.", param="staff")
    return staff


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


def webhook_endpoint_by_ref(*, merchant: Merchant, ref: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(merchant=merchant, ref=ref).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.", param="endpoint")
    return endpoint


def webhook_delivery_by_ref(*, merchant: Merchant, ref: str) -> WebhookDelivery:
    """One delivery of this merchant's, with its event, endpoint and attempts (the detail page)."""
    delivery = webhook_deliveries_of_merchant(merchant=merchant).filter(ref=ref).first()
    if delivery is None:
        raise NotFound("No such delivery.", param="delivery")
    return delivery


def audit_entries_of_merchant(
    *,
    merchant: Merchant,
    actor_user_id: int | None = None,
    actor_key_prefix: str | None = None,
    actions: Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEntry]:
    """Newest first, narrowed to one person or key, to some kinds, and to [since, until)."""
    entries = AuditEntry.objects.filter(merchant=merchant).select_related("actor_user", "actor_key")
    if actor_user_id is not None:
        entries = entries.filter(actor_user_id=actor_user_id)
    if actor_key_prefix is not None:
        entries = entries.filter(actor_key__prefix=actor_key_prefix)
    if actions is not None:
        entries = entries.filter(action__in=list(actions))
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    if until is not None:
        entries = entries.filter(created_at__lt=until)
    return entries.order_by("-created_at", "-id")
