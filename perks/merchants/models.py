from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.core.constraints import unique_text
from loyalty.core.crypto import EncryptedTextField
from loyalty.core.refs import ref_field
from perks.merchants.permissions import Role

MERCHANT_REF_PREFIX = "mch"
LOCATION_REF_PREFIX = "loc"
ENDPOINT_REF_PREFIX = "whe"
EVENT_REF_PREFIX = "evt"
DELIVERY_REF_PREFIX = "whd"


class Category(models.TextChoices):
    CAR_RENTAL = "car_rental", _("Car rental")
    FX = "fx", _("Foreign exchange")
    LOUNGE = "lounge", _("Airport lounge")
    RAIL = "rail", _("Rail station")
    HOSPITAL = "hospital", _("Hospital")
    COFFEE = "coffee", _("Coffee")
    HOTEL = "hotel", _("Hotel")
    RETAIL = "retail", _("Retail")


class MerchantStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended by the operator")
    PAUSED_BILLING = "paused_billing", _("Paused for an unpaid invoice")


class Merchant(models.Model):
    ref = ref_field(MERCHANT_REF_PREFIX)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=64, db_index=False)
    category = models.CharField(max_length=16, choices=Category.choices)
    status = models.CharField(max_length=16, choices=MerchantStatus.choices, default=MerchantStatus.ACTIVE)
    logo = models.ImageField(upload_to="merchants/logos/", blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [unique_text("ref"), unique_text("slug")]

    def __str__(self) -> str:
        return self.name


class Location(models.Model):
    """A place where vouchers are honoured; `code` is what a cashier sees and types."""

    ref = ref_field(LOCATION_REF_PREFIX)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(max_length=120)
    address = models.CharField(max_length=300, blank=True)
    code = models.CharField(max_length=16)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["merchant", "code"]
        constraints = [
            unique_text("ref"),
            models.UniqueConstraint(fields=["merchant", "code"], name="location_code_unique_per_merchant"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Staff(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_roles")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="staff")
    role = models.CharField(max_length=16, choices=Role.choices)
    added_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "staff"
        ordering = ["merchant", "role", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "merchant"], name="staff_one_role_per_merchant"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) at {self.merchant}"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for an answer")
    ACCEPTED = "accepted", _("Accepted")
    REVOKED = "revoked", _("Revoked")
    EXPIRED = "expired", _("Expired")


class Invitation(models.Model):
    """An e-mail address asked to join a merchant's staff in a role. Only the SHA-256 of
    the mailed token is kept, as for API keys: whoever reads the table cannot accept it.
    A pending invitation past `expires_at` is expired, whatever its status still says."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    token_hash = models.CharField(max_length=64, editable=False)
    status = models.CharField(
        max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            unique_text("token_hash"),
            models.UniqueConstraint(
                fields=["merchant", "email"],
                condition=Q(status=InvitationStatus.PENDING),
                name="invitation_one_pending_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} as {self.role} at {self.merchant_id}"


class ApiKey(models.Model):
    """A partner's key. Only its SHA-256 is kept; the plaintext is shown once, when made."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        constraints = [unique_text("prefix")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class WebhookEndpoint(models.Model):
    """Where a merchant wants events POSTed. The secret signs them, so it is kept to sign:
    encrypted in its column, plain in Python (loyalty.core.crypto)."""

    ref = ref_field(ENDPOINT_REF_PREFIX)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    event_types = models.JSONField(default=list)
    secret = EncryptedTextField(editable=False)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [unique_text("ref")]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(models.Model):
    """Something that happened at a merchant, as its endpoints receive it."""

    ref = ref_field(EVENT_REF_PREFIX)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=64)
    data = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["merchant", "-created_at"])]
        constraints = [unique_text("ref")]

    def __str__(self) -> str:
        return f"{self.type} {self.ref}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed")


WEBHOOK_RETRY_WINDOW = timedelta(hours=24)


def _retry_deadline() -> datetime:
    return timezone.now() + WEBHOOK_RETRY_WINDOW


class WebhookDelivery(models.Model):
    """One event to one endpoint, retried until it succeeds or its deadline passes.

    `next_attempt_at` is when an attempt may start: a sender moves it forward before it
    sends, so a second copy of the task finds nothing to do. `dispatched_at` is when it was
    last put on the queue, so the sweeper does not queue it again while it waits there.
    """

    ref = ref_field(DELIVERY_REF_PREFIX)
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(default=timezone.now)
    deadline = models.DateTimeField(default=_retry_deadline)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            unique_text("ref"),
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once_per_endpoint"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status=DeliveryStatus.PENDING),
                name="webhook_delivery_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint}"


class AttemptOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    INTERRUPTED = "interrupted", _("Interrupted: the sender stopped before it learnt the outcome")


class WebhookAttemptKey(models.Model):
    """Each (delivery, number) an attempt was written under: what keeps attempt numbers once.

    Attempts are partitioned by month on PostgreSQL (loyalty/core/partitioning), whose
    unique keys must contain the month, so the key lives here, unpartitioned, written in the
    attempt's own transaction. It goes with its delivery.
    """

    pk = models.CompositePrimaryKey("delivery", "number")
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="+", db_index=False)
    number = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"


class WebhookAttempt(models.Model):
    """One try at a delivery: written when it starts, completed once with what came back."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.CheckConstraint(condition=Q(number__gte=1), name="webhook_attempt_number_positive"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {self.outcome or 'in flight'}"


class AuditEntry(models.Model):
    """Append-only: who changed what at a merchant (a person, a key, or the platform)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="audit_entries")
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=64, blank=True)
    params = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["merchant", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.target}"
