from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.core.constraints import unique_text
from loyalty.core.refs import ref_field

MEMBER_REF_PREFIX = "mem"


class Dimension(models.TextChoices):
    """The five kinds of commercial data a member may consent to share."""

    PAYMENT_HISTORY = "payment_history", _("Payment history")
    FULFILMENT = "fulfilment", _("Fulfilment")
    TENURE = "tenure", _("Tenure and activity")
    IDENTITY = "identity", _("Identity verification")
    ASSETS = "assets", _("Declared assets")


class Locale(models.TextChoices):
    ENGLISH = "en", "English"
    SIMPLIFIED_CHINESE = "zh-hans", "简体中文"


class Member(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="member")
    ref = ref_field(MEMBER_REF_PREFIX)
    display_name = models.CharField(max_length=100, blank=True)
    locale = models.CharField(max_length=8, choices=Locale.choices, default=Locale.ENGLISH)
    email_verified = models.BooleanField(default=False)
    phone = models.CharField(max_length=32, blank=True)
    phone_verified = models.BooleanField(default=False)
    joined_at = models.DateTimeField(default=timezone.now)
    # Erasure (GDPR Art. 17): asked for, then carried out once the days to cancel have passed.
    erasure_requested_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [unique_text("ref")]

    def __str__(self) -> str:
        return self.ref


class Consent(models.Model):
    """A member's current choice for one dimension; `ConsentChange` keeps every choice made."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="consents")
    dimension = models.CharField(max_length=20, choices=Dimension.choices)
    granted = models.BooleanField()
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "dimension"], name="consent_one_per_dimension"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.dimension} {'granted' if self.granted else 'withdrawn'}"


class ConsentSource(models.TextChoices):
    """Where a consent choice was made, so the history says who changed it."""

    APP = "app", _("The member, in the app")
    SIGNUP = "signup", _("The member, when joining")
    OPERATOR = "operator", _("An operator, on the member's request")
    SEED = "seed", _("Demo or load-test data")


class ConsentChange(models.Model):
    """Append-only history of consent: a row each time a member grants or withdraws."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="consent_changes")
    dimension = models.CharField(max_length=20, choices=Dimension.choices)
    granted = models.BooleanField()
    source = models.CharField(max_length=16, choices=ConsentSource.choices, default=ConsentSource.APP)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["member", "changed_at"])]

    def __str__(self) -> str:
        choice = "granted" if self.granted else "withdrawn"
        return f"{self.member_id} {self.dimension} {choice} at {self.changed_at:%Y-%m-%d %H:%M}"


class NotificationKey(models.Model):
    """Each dedupe key a notification was written under: what keeps a notification once.

    Notifications are partitioned by month on PostgreSQL (loyalty/core/partitioning), whose
    unique keys must contain the month, so the key lives here, unpartitioned, claimed first
    in the writer's transaction (services/notifications.py). Kept when a month of
    notifications is dropped: a job replayed later still finds its notice given.
    """

    dedupe_key = models.CharField(max_length=200, primary_key=True)

    def __str__(self) -> str:
        return self.dedupe_key


class Notification(models.Model):
    """Something a member should be told (points about to expire, a voucher redeemed).

    Written in the transaction that caused it; surfaces (the app, later e-mail or push) show
    and deliver them. `dedupe_key` makes the job that writes one safe to run twice.
    """

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["member", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} for {self.member_id}"


class LookupPurpose(models.TextChoices):
    BENEFITS = "benefits", _("Checked your benefits")
    DEPOSIT = "deposit", _("Asked about a deposit")
    VALIDATION = "validation", _("Checked a voucher of yours")
    REDEMPTION = "redemption", _("Redeemed a voucher of yours")
    VOUCHER = "voucher", _("Gave you a voucher")
    VOUCHER_READ = "voucher_read", _("Looked up a voucher of yours")


class MemberLookup(models.Model):
    """Append-only: a partner looked this member up. The member reads these in the app."""

    # Indexed by (member, -looked_up_at) below.
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="lookups", db_index=False)
    merchant_ref = models.CharField(max_length=32)
    merchant_name = models.CharField(max_length=200)
    purpose = models.CharField(max_length=16, choices=LookupPurpose.choices)
    looked_up_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["member", "-looked_up_at"])]

    def __str__(self) -> str:
        return f"{self.merchant_name} {self.purpose} {self.member_id}"


class MemberPass(models.Model):
    """One issued member pass. The signed token carries only `token_id`, so a scanned pass
    names no permanent identifier; the row says whose it is and until when it holds."""

    token_id = models.CharField(max_length=32)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [unique_text("token_id")]

    def __str__(self) -> str:
        return f"pass of {self.member_id} until {self.expires_at:%H:%M:%S}"


class LinkStart(models.TextChoices):
    PASS = "pass", _("You showed your member pass there")
    REDEMPTION = "redemption", _("You used one of their vouchers")
    SHARING = "sharing", _("You added them under Sharing")


class LinkEnd(models.TextChoices):
    MEMBER = "member", _("You ended it")
    ERASURE = "erasure", _("Your account was erased")


class MerchantLink(models.Model):
    """A member's link with a merchant: only a linked merchant may name the member by ref or
    report about them. The member starts it (a pass shown, a voucher used, or Sharing) and
    may end it; a new link after an ended one is a new row, so the history stays.

    The merchant is named by its public ref and name, plain values: the member side never
    holds a key into `perks`.
    """

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="links", db_index=False)
    merchant_ref = models.CharField(max_length=32)
    merchant_name = models.CharField(max_length=200)
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.CharField(max_length=16, choices=LinkStart.choices)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=16, choices=LinkEnd.choices, blank=True)

    class Meta:
        indexes = [models.Index(fields=["member", "-started_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant_ref", "member"],
                condition=Q(ended_at__isnull=True),
                name="link_one_active_per_merchant",
            ),
            models.CheckConstraint(
                condition=(Q(ended_at__isnull=True) & Q(ended_by=""))
                | (Q(ended_at__isnull=False) & ~Q(ended_by="")),
                name="link_end_matches_ended_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} ~ {self.merchant_ref}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None
