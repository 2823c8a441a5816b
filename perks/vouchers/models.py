"""Vouchers and everything that happens to them.

A voucher carries one perk to one member with a number of uses. Uses move only by
conditional UPDATE: `uses_count` (redeemed) and `uses_reserved` (held for a checkout)
together never exceed `uses_allowed`, and the database refuses any row that would.
Redemptions, their reversals and usage records are append-only rows.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.core.constraints import unique_text
from loyalty.core.masking import mask
from loyalty.core.refs import ref_field
from loyalty.members.models import Member
from loyalty.scoring.models import Tier
from perks.catalog.models import Perk
from perks.merchants.models import Location, Merchant
from perks.vouchers.codes import CODE_LENGTH

REDEMPTION_REF_PREFIX = "red"
RESERVATION_REF_PREFIX = "rsv"
CAMPAIGN_REF_PREFIX = "cmp"
BATCH_REF_PREFIX = "bat"
CLAIM_KEY_MAX_LENGTH = 255


def _money_field() -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)


class VoucherStatus(models.TextChoices):
    ISSUED = "issued", _("Ready to use")
    REDEEMED = "redeemed", _("Used")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Withdrawn")


class VoucherSource(models.TextChoices):
    CLAIM = "claim", _("Claimed by the member")
    MERCHANT = "merchant", _("Given by the merchant")
    CAMPAIGN = "campaign", _("Sent in a campaign")
    AUTO = "auto", _("Sent on reaching a tier")


class CampaignStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to start")
    RUNNING = "running", _("Issuing")
    DONE = "done", _("Finished")
    FAILED = "failed", _("Failed")


class Campaign(models.Model):
    """One perk to every member of an audience, issued by Celery in chunks of members."""

    ref = ref_field(CAMPAIGN_REF_PREFIX)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="campaigns")
    perk = models.ForeignKey(Perk, on_delete=models.PROTECT, related_name="campaigns")
    audience_min_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    audience_min_score = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.PENDING)
    total = models.PositiveIntegerField(default=0)
    issued = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failure = models.CharField(max_length=300, blank=True)
    created_by = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["merchant", "-created_at"])]
        constraints = [
            unique_text("ref"),
            models.CheckConstraint(
                condition=Q(status__in=CampaignStatus.values), name="campaign_status_known"
            ),
            models.CheckConstraint(
                condition=Q(issued__lte=F("total") - F("skipped")),
                name="campaign_progress_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ref} ({self.perk})"


class ChunkStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    DONE = "done", _("Issued")


class CampaignChunk(models.Model):
    """A slice of a campaign's audience by member id, issued in one transaction."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_member_id = models.BigIntegerField()
    last_member_id = models.BigIntegerField()
    size = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=ChunkStatus.choices, default=ChunkStatus.PENDING)
    issued = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "index"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "index"], name="campaign_chunk_index_unique"),
            models.CheckConstraint(
                condition=Q(first_member_id__lte=F("last_member_id")), name="campaign_chunk_range_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} #{self.index}"


class Voucher(models.Model):
    """`code` is canonical (13 symbols, see perks.vouchers.codes). `merchant` repeats the
    perk's so that every merchant-scoped look-up is one indexed condition."""

    # Foreign keys lead the composite indexes below instead of each having its own, and the
    # code is unique by constraint (no LIKE index): a redemption's UPDATE writes every index.
    code = models.CharField(max_length=CODE_LENGTH, editable=False)
    perk = models.ForeignKey(Perk, on_delete=models.PROTECT, related_name="vouchers", db_index=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="vouchers", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="vouchers", db_index=False)
    status = models.CharField(max_length=16, choices=VoucherStatus.choices, default=VoucherStatus.ISSUED)
    source = models.CharField(max_length=16, choices=VoucherSource.choices)
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.PROTECT, related_name="vouchers", db_index=False
    )
    uses_allowed = models.PositiveIntegerField(default=1)
    uses_count = models.PositiveIntegerField(default=0)
    uses_reserved = models.PositiveIntegerField(default=0)
    # Points the member paid for it (a claim), and the ledger transaction that took them,
    # so a revoked claim can give them back.
    points_spent = models.PositiveIntegerField(default=0)
    points_transaction_id = models.BigIntegerField(null=True, blank=True)
    # The member's idempotency key of a claim: a replayed claim finds its voucher by it.
    claim_key = models.CharField(max_length=CLAIM_KEY_MAX_LENGTH, blank=True, default="", editable=False)
    issued_at = models.DateTimeField(default=timezone.now)
    valid_from = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    status_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-issued_at"]),
            models.Index(fields=["member", "-issued_at"]),
            models.Index(fields=["perk", "member", "issued_at"], name="voucher_member_limit"),
            models.Index(
                fields=["expires_at"], condition=Q(status=VoucherStatus.ISSUED), name="voucher_expiry_due"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["code"], name="voucher_code_unique"),
            models.CheckConstraint(condition=Q(status__in=VoucherStatus.values), name="voucher_status_known"),
            models.CheckConstraint(condition=Q(source__in=VoucherSource.values), name="voucher_source_known"),
            models.CheckConstraint(condition=Q(uses_allowed__gte=1), name="voucher_uses_allowed_positive"),
            models.CheckConstraint(
                condition=Q(uses_count__lte=F("uses_allowed") - F("uses_reserved")),
                name="voucher_uses_within_allowed",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("issued_at")), name="voucher_expiry_after_issue"
            ),
            models.CheckConstraint(
                condition=Q(source=VoucherSource.CAMPAIGN, campaign__isnull=False)
                | (~Q(source=VoucherSource.CAMPAIGN) & Q(campaign__isnull=True)),
                name="voucher_campaign_iff_campaign_source",
            ),
            models.UniqueConstraint(
                fields=["member", "claim_key"],
                condition=~Q(claim_key=""),
                name="voucher_claim_key_once_per_member",
            ),
            # A retried or duplicated campaign chunk can never give a member a second one.
            models.UniqueConstraint(
                fields=["campaign", "member"],
                condition=Q(campaign__isnull=False),
                name="voucher_once_per_campaign_member",
            ),
        ]

    def __str__(self) -> str:
        # What the console writes into its history and any log line: never a usable code.
        return f"#{self.pk} {mask(self.code)}"

    @property
    def uses_remaining(self) -> int:
        return self.uses_allowed - self.uses_count


class ReservationStatus(models.TextChoices):
    ACTIVE = "active", _("Held")
    CONSUMED = "consumed", _("Redeemed")
    RELEASED = "released", _("Released")
    EXPIRED = "expired", _("Expired")


class Reservation(models.Model):
    """One use of a voucher held for a checkout in progress, until it is consumed by a
    redemption, released, or its time runs out."""

    ref = ref_field(RESERVATION_REF_PREFIX)
    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="reservations")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=16, choices=ReservationStatus.choices, default=ReservationStatus.ACTIVE
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=Q(status=ReservationStatus.ACTIVE),
                name="reservation_expiry_due",
            ),
        ]
        constraints = [
            unique_text("ref"),
            models.CheckConstraint(
                condition=Q(status__in=ReservationStatus.values), name="reservation_status_known"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="reservation_ttl_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.ref


class RedemptionChannel(models.TextChoices):
    API = "api", _("Partner API")
    PORTAL = "portal", _("Cashier in the portal")
    BATCH = "batch", _("Offline batch")


class Redemption(models.Model):
    """One use of a voucher, with the benefit it gave, as computed at that moment."""

    ref = ref_field(REDEMPTION_REF_PREFIX)
    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="redemptions")
    # Indexed by the Meta's indexes (merchant first; locations only where one is named).
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="redemptions", db_index=False
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    reservation = models.OneToOneField(
        Reservation, null=True, blank=True, on_delete=models.PROTECT, related_name="redemption"
    )
    channel = models.CharField(max_length=16, choices=RedemptionChannel.choices)
    amount = _money_field()
    currency = models.CharField(max_length=3, blank=True)
    benefit = models.JSONField(encoder=DjangoJSONEncoder)
    metadata = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    actor = models.CharField(max_length=120)
    occurred_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Redemptions are the outbox of their side effects (usage, webhook, notification):
    # empty until they are applied (perks.vouchers.services.side_effects).
    side_effects_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-created_at", "-id"]),
            models.Index(
                fields=["id"], condition=Q(side_effects_at=None), name="redemption_side_effects_due"
            ),
            models.Index(
                fields=["location"], condition=Q(location__isnull=False), name="redemption_location"
            ),
        ]
        constraints = [
            unique_text("ref"),
            models.CheckConstraint(
                condition=Q(channel__in=RedemptionChannel.values), name="redemption_channel_known"
            ),
        ]

    def __str__(self) -> str:
        return self.ref

    @property
    def uses_remaining(self) -> int:
        """The voucher's uses left (as the partner API answers a redemption)."""
        return self.voucher.uses_remaining


class RedemptionReversal(models.Model):
    """A redemption undone within the window: its use given back. At most one a redemption."""

    redemption = models.OneToOneField(Redemption, on_delete=models.PROTECT, related_name="reversal")
    reason = models.CharField(max_length=300, blank=True)
    actor = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return f"reversal of {self.redemption_id}"


class UsageKind(models.TextChoices):
    REDEMPTION = "redemption", _("Redemption")
    REVERSAL = "reversal", _("Reversal")


class UsageKey(models.Model):
    """One row a (redemption, kind) given a usage row: what keeps usage once per redemption.

    Usage records are partitioned by month on PostgreSQL (loyalty/core/partitioning), whose
    unique keys must contain the month, so the key lives here, unpartitioned, claimed first
    in the transaction that writes the usage (sql.USAGE_INSERT). Kept as long as usage is.
    """

    pk = models.CompositePrimaryKey("redemption", "kind")
    redemption = models.ForeignKey(Redemption, on_delete=models.PROTECT, related_name="+", db_index=False)
    kind = models.CharField(max_length=16, choices=UsageKind.choices)

    def __str__(self) -> str:
        return f"{self.kind} of {self.redemption_id}"


class UsageRecord(models.Model):
    """What a merchant is billed for: one row a redemption, and a negative one if it is
    reversed. Written once by the redemption's side-effect task, invoiced later."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="usage_records")
    redemption = models.ForeignKey(Redemption, on_delete=models.PROTECT, related_name="usage_records")
    kind = models.CharField(max_length=16, choices=UsageKind.choices)
    quantity = models.SmallIntegerField()
    recorded_at = models.DateTimeField(default=timezone.now)
    invoiced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-recorded_at"]
        indexes = [
            models.Index(
                fields=["merchant", "recorded_at"],
                condition=Q(invoiced_at__isnull=True),
                name="usage_uninvoiced",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind=UsageKind.REDEMPTION, quantity=1) | Q(kind=UsageKind.REVERSAL, quantity=-1)
                ),
                name="usage_quantity_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.redemption_id}"


class BatchStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Applying")
    DONE = "done", _("Applied")


class RedemptionBatch(models.Model):
    """Redemptions a POS made while offline, applied one by one in the background."""

    ref = ref_field(BATCH_REF_PREFIX)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="redemption_batches")
    status = models.CharField(max_length=16, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    created_by = models.CharField(max_length=120)
    # Who uploaded it, as its task is given them (an API key or a staff user): beat's sweep
    # applies a batch whose task was never queued as that actor. Empty on batches from before.
    actor_kind = models.CharField(max_length=16, blank=True)
    actor_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [unique_text("ref")]
        indexes = [
            # Beat's sweep of the batches their task left undone.
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["pending", "running"]),
                name="batch_unfinished_created",
            )
        ]

    def __str__(self) -> str:
        return self.ref


class BatchItemStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    REDEEMED = "redeemed", _("Redeemed")
    FAILED = "failed", _("Refused")


class RedemptionBatchItem(models.Model):
    batch = models.ForeignKey(RedemptionBatch, on_delete=models.CASCADE, related_name="items")
    index = models.PositiveIntegerField()
    code = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    location_code = models.CharField(max_length=64, blank=True)
    amount = _money_field()
    currency = models.CharField(max_length=3, blank=True)
    status = models.CharField(max_length=16, choices=BatchItemStatus.choices, default=BatchItemStatus.PENDING)
    redemption = models.OneToOneField(
        Redemption, null=True, blank=True, on_delete=models.PROTECT, related_name="batch_item"
    )
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["batch", "index"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "index"], name="batch_item_index_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id} #{self.index}"


class AutoIssueSweep(models.Model):
    """How far beat's auto-issue sweep has read the tier changes: one row, made by its first
    run (perks.vouchers.campaigns.services.vouchers_auto_issue_due).

    Every tier change up to `through` is handled. `seen` is the newest tier change when the
    sweep last looked, at `seen_at`: the sweep reads up to it only once the grace period
    has passed since, when every transaction that wrote a change up to it has committed."""

    through = models.BigIntegerField()
    seen = models.BigIntegerField()
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"auto-issue swept through tier change {self.through}"


class PerkFigures(models.Model):
    """What the rollup counts of a perk on a day (perks.vouchers.services.rollup.Figures)."""

    issued = models.PositiveIntegerField(default=0)
    claimed = models.PositiveIntegerField(default=0)
    redeemed = models.PositiveIntegerField(default=0)
    reversed = models.PositiveIntegerField(default=0)
    # Deposits waived by the perk's vouchers, net of reversals (a reversal may be counted
    # before its redemption, so either may dip below zero for a moment), in the perk's currency.
    deposits_waived = models.IntegerField(default=0)
    deposits_waived_amount = models.DecimalField(max_digits=18, decimal_places=4, default=0)

    class Meta:
        abstract = True


class PerkDay(PerkFigures):
    """A merchant's figures for one perk on one day at one location (none for issuing, which
    happens nowhere in particular), which the portal's dashboard reads instead of the
    vouchers and redemptions themselves (perks.vouchers.rollup).

    Redemption figures move in the transaction that records the redemption's (or the
    reversal's) usage row, by F(), so a side effect run twice counts once, and so do the
    sums over locations and over perks (`PerkDayTotal`, `LocationDayTotal`); issuing figures,
    and the repair of any drift, come from beat's recount of today and yesterday. A reversal
    counts on its redemption's row: a day's net redemptions are `redeemed - reversed`. Days
    are in settings.TIME_ZONE.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+", db_index=False)
    day = models.DateField()
    perk = models.ForeignKey(Perk, on_delete=models.PROTECT, related_name="+", db_index=False)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    class Meta:
        constraints = [
            # Leads with (merchant, day): the index every dashboard query ranges over.
            models.UniqueConstraint(
                F("merchant"), F("day"), F("perk"), Coalesce(F("location"), Value(0)), name="perk_day_key"
            ),
        ]
        # Beat's recount reads today's and yesterday's rows of every merchant: without it,
        # the whole table every five minutes. A row gets an entry when it is inserted, once
        # a key and day; its counts moving add one only when the row moves page (not HOT).
        # Likewise on the totals.
        indexes = [models.Index(fields=["day"], name="perk_day_day")]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.day} perk {self.perk_id} at {self.location_id}"


class PerkDayTotal(PerkFigures):
    """One perk's figures for one day at all its locations: the sum of its `PerkDay` rows,
    kept beside them by the same writers (perks.vouchers.services.rollup), so that the
    dashboard reads a row a perk and day, however many locations the merchant has."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+", db_index=False)
    day = models.DateField()
    perk = models.ForeignKey(Perk, on_delete=models.PROTECT, related_name="+", db_index=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "day", "perk"], name="perk_day_total_key"),
        ]
        indexes = [models.Index(fields=["day"], name="perk_day_total_day")]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.day} perk {self.perk_id}"


class LocationDayTotal(models.Model):
    """One location's redemptions and reversals for one day, of all the merchant's perks
    (none: redemptions where no location was named): the sum of its `PerkDay` rows, kept
    as `PerkDayTotal` is, for the dashboard's top locations."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+", db_index=False)
    day = models.DateField()
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    redeemed = models.PositiveIntegerField(default=0)
    reversed = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                F("merchant"), F("day"), Coalesce(F("location"), Value(0)), name="location_day_total_key"
            ),
        ]
        indexes = [models.Index(fields=["day"], name="location_day_total_day")]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.day} at {self.location_id}"


class MerchantDay(models.Model):
    """A merchant's figures for one day that belong to no perk: the points it funded (put
    into members' wallets, net of reversals), from beat's recount of the points ledger."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+", db_index=False)
    day = models.DateField()
    points_funded = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "day"], name="merchant_day_key")]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.day}"
