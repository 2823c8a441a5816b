from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.core.constraints import unique_text
from loyalty.core.refs import ref_field
from loyalty.members.models import Dimension, Member

SCORE_MIN = 350
SCORE_MAX = 950
HOLD_MAX_DAYS = 180
HOLD_REF_PREFIX = "hld"
PLATFORM_SOURCE = "platform"
DIMENSION_BITS = {dimension: 1 << position for position, dimension in enumerate(Dimension.values)}
ALL_DIMENSION_BITS = sum(DIMENSION_BITS.values())


class Tier(models.Model):
    """A score band. Bands are contiguous and do not overlap; `rank` orders them, low to high."""

    slug = models.SlugField(max_length=32, db_index=False)
    name = models.CharField(max_length=64)
    name_zh = models.CharField(max_length=64, blank=True)
    rank = models.PositiveSmallIntegerField(unique=True)
    min_score = models.PositiveSmallIntegerField()
    max_score = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_score__gte=SCORE_MIN)
                & Q(max_score__lte=SCORE_MAX)
                & Q(min_score__lte=F("max_score")),
                name="tier_band_within_score_range",
            ),
            unique_text("slug"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.min_score}–{self.max_score})"

    def name_in(self, locale: str) -> str:
        """The tier's name in a member's language (Chinese where the operator gave one)."""
        return self.name_zh if locale.startswith("zh") and self.name_zh else self.name


class MemberStanding(models.Model):
    """A member's current score and tier, cached beside the snapshots that explain them.

    `below_band_since` is set while the score sits below the tier's band: the downgrade
    waits for the grace period. `version` grows with every write, so the nightly bulk run
    never overwrites a standing that changed after it read it.

    `shared_dimensions` is the engine's copy of the member's consent (a bit per dimension,
    `DIMENSION_BITS`), written by `consent_set` in the transaction that writes the Consent
    row, so a full recomputation needs no pass over five million consent rows.

    Only the primary key is indexed, and on PostgreSQL the table keeps free room in each
    page (migration 0006): the nightly run then rewrites a million standings as HOT updates,
    with no index to touch. Audiences are read in primary-key chunks and need no other index.
    """

    member = models.OneToOneField(Member, on_delete=models.CASCADE, primary_key=True, related_name="standing")
    score = models.PositiveSmallIntegerField()
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", db_index=False)
    shared_dimensions = models.PositiveSmallIntegerField(default=0)
    below_band_since = models.DateTimeField(null=True, blank=True)
    engine_version = models.PositiveSmallIntegerField(default=1)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=SCORE_MIN) & Q(score__lte=SCORE_MAX), name="standing_score_in_range"
            ),
            models.CheckConstraint(
                condition=Q(shared_dimensions__lte=ALL_DIMENSION_BITS),
                name="standing_shared_dimensions_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.score}"


class EventKind(models.Model):
    """What an event of a kind means for the score: its dimension and its impact.

    Events copy both when they are recorded, so editing a kind never rewrites history; the
    admin still keeps them read-only once a kind exists, because one code meaning two things
    over time would make explanations contradict each other.
    """

    code = models.SlugField(max_length=40, primary_key=True)
    dimension = models.CharField(max_length=20, choices=Dimension.choices)
    impact = models.SmallIntegerField(
        help_text=_("Points of evidence a new event of this kind adds (−100…100).")
    )
    partner_reportable = models.BooleanField(
        default=False,
        help_text=_("Partners may send it to POST /events; otherwise only the platform records it."),
    )
    label = models.CharField(max_length=100)
    label_zh = models.CharField(max_length=100)

    class Meta:
        ordering = ["dimension", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(impact__gte=-100) & Q(impact__lte=100) & ~Q(impact=0),
                name="event_kind_impact_range",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class EventCap(models.TextChoices):
    """Why an event does not count although it was recorded: one merchant's influence on a
    member is bounded (docs/scoring.md)."""

    DAILY_NEGATIVES = "daily_negatives", _("More negative events from this merchant that day than count")
    SCORE_FLOOR = (
        "score_floor",
        _("This merchant's recent events already lowered your score as far as they may"),
    )


class EventKey(models.Model):
    """Each (source, external id) a score event was stored under: what keeps an event once.

    Score events are partitioned by month on PostgreSQL (loyalty/core/partitioning.py), and a
    partitioned table's unique keys must contain its partition key: so the key lives here,
    unpartitioned, written first in the event's own transaction. Kept for ever, even when an
    event's month would be dropped, so that a replayed old event is still a duplicate.
    """

    pk = models.CompositePrimaryKey("source", "external_id")
    source = models.CharField(max_length=32)
    external_id = models.CharField(max_length=255)

    def __str__(self) -> str:
        return f"{self.source}/{self.external_id}"


class ScoreEvent(models.Model):
    """Append-only: one piece of commercial data about a member, unique per (source, external
    id) through its `EventKey`."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="score_events", db_index=False)
    source = models.CharField(max_length=32, help_text=_("A merchant ref (mch_…) or 'platform'."))
    external_id = models.CharField(max_length=255)
    kind = models.ForeignKey(
        EventKind, on_delete=models.PROTECT, db_column="kind", db_index=False, related_name="+"
    )
    dimension = models.CharField(max_length=20, choices=Dimension.choices)
    impact = models.SmallIntegerField()
    occurred_at = models.DateTimeField()
    occurred_day = models.IntegerField(help_text=_("UTC day number since 1970-01-01: what decay counts in."))
    amount = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    # Set when the event is recorded and never after: an event past one of its merchant's
    # caps is kept, shown to the member, and never counts.
    cap = models.CharField(max_length=16, choices=EventCap.choices, blank=True, default="", db_default="")

    class Meta:
        indexes = [
            models.Index(fields=["member", "occurred_day"]),
            # The few events past a cap, which the nightly run takes off each member's sums.
            models.Index(fields=["member"], condition=~Q(cap=""), name="score_event_capped"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(impact__gte=-100) & Q(impact__lte=100), name="score_event_impact_range"
            ),
            models.CheckConstraint(
                condition=(Q(amount__isnull=True) & Q(currency=""))
                | (Q(amount__isnull=False) & Q(amount__gte=0) & ~Q(currency="")),
                name="score_event_amount_with_currency",
            ),
            # Caps bound how far a merchant can lower a score: only a negative event is capped.
            models.CheckConstraint(
                condition=Q(cap="") | Q(impact__lt=0), name="score_event_capped_is_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}/{self.external_id}"


class RecomputeCause(models.TextChoices):
    JOINED = "joined", _("Joined")
    EVENTS = "events", _("New data")
    CONSENT = "consent", _("Consent changed")
    NIGHTLY = "nightly", _("Nightly recomputation")
    GRACE = "grace", _("Grace period ended")
    REQUESTED = "requested", _("Requested")


class RecomputeRequest(models.Model):
    """A member whose score inputs changed and who waits for a recomputation (a work queue)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    cause = models.CharField(max_length=16, choices=RecomputeCause.choices)
    requested_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"recompute {self.member_id} ({self.cause})"


class ScoreSnapshot(models.Model):
    """Append-only: one recomputation's result and everything needed to explain it.

    Per dimension it keeps the decayed sum of consented events (`<dimension>_sum`, NULL when
    the member does not share that dimension) and the resulting contribution in thousandths
    of a point (`<dimension>_milli`). Reason codes are derived from these columns and the
    engine version when shown, so the bulk path writes no text.
    """

    # No database FK: the nightly run writes a million of these from standing rows, which are
    # FK-bound to members and tiers already; a per-row check would double its cost. Members
    # and tiers in use are never deleted (PROTECT, append-only history).
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="score_snapshots", db_index=False, db_constraint=False
    )
    computed_at = models.DateTimeField()
    cause = models.CharField(max_length=16, choices=RecomputeCause.choices)
    engine_version = models.PositiveSmallIntegerField()
    score = models.PositiveSmallIntegerField()
    tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    payment_history_sum = models.BigIntegerField(null=True, blank=True)
    payment_history_milli = models.IntegerField(null=True, blank=True)
    fulfilment_sum = models.BigIntegerField(null=True, blank=True)
    fulfilment_milli = models.IntegerField(null=True, blank=True)
    tenure_sum = models.BigIntegerField(null=True, blank=True)
    tenure_milli = models.IntegerField(null=True, blank=True)
    identity_sum = models.BigIntegerField(null=True, blank=True)
    identity_milli = models.IntegerField(null=True, blank=True)
    assets_sum = models.BigIntegerField(null=True, blank=True)
    assets_milli = models.IntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["member", "-computed_at", "-id"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=SCORE_MIN) & Q(score__lte=SCORE_MAX), name="snapshot_score_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.score} at {self.computed_at:%Y-%m-%d %H:%M}"

    def sums(self) -> dict[str, int | None]:
        return {dimension: getattr(self, f"{dimension}_sum") for dimension in Dimension.values}

    def contributions_milli(self) -> dict[str, int | None]:
        return {dimension: getattr(self, f"{dimension}_milli") for dimension in Dimension.values}


class TierChangeCause(models.TextChoices):
    JOINED = "joined", _("Joined")
    UPGRADE = "upgrade", _("Upgrade")
    DOWNGRADE = "downgrade", _("Downgrade after the grace period")


class TierChange(models.Model):
    """Append-only history of a member's tier."""

    # No database FK, for the reason given on ScoreSnapshot.
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="tier_changes", db_index=False, db_constraint=False
    )
    previous_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False
    )
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    score = models.PositiveSmallIntegerField()
    cause = models.CharField(max_length=16, choices=TierChangeCause.choices)
    changed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["member", "-changed_at"])]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.previous_tier_id} → {self.tier_id}"


class HoldCategory(models.TextChoices):
    """The perk types a hold may suspend; `all` suspends every perk of the merchant."""

    DEPOSIT_WAIVER = "deposit_waiver", _("Deposit waivers")
    FX_MARGIN = "fx_margin", _("FX margins")
    ACCESS_PASS = "access_pass", _("Access passes")
    FREE_ITEM = "free_item", _("Free items")
    DISCOUNT = "discount", _("Discounts")
    ALL = "all", _("All perks")


class HoldReason(models.TextChoices):
    UNRETURNED_RENTAL = "unreturned_rental", _("A rental not returned")
    DAMAGE_CLAIM = "damage_claim", _("A claim for damage")
    FRAUD_SUSPECTED = "fraud_suspected", _("Suspected fraud, being looked into")
    UNPAID_BALANCE = "unpaid_balance", _("An unpaid balance")
    UNRETURNED_ITEM = "unreturned_item", _("An item not returned")
    UNPAID_DAMAGE = "unpaid_damage", _("Damage not yet paid for")
    REVERSED_PAYMENT = "reversed_payment", _("A payment that was reversed")
    OTHER = "other", _("Another unresolved obligation (see the evidence)")


class HoldStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    LIFTED = "lifted", _("Lifted")
    EXPIRED = "expired", _("Expired")


class HoldEnd(models.TextChoices):
    MERCHANT = "merchant", _("Lifted by the merchant")
    OBLIGATION_SETTLED = "obligation_settled", _("The obligation was settled")
    APPEAL = "appeal", _("Lifted on appeal")
    EXPIRY = "expiry", _("Expired")
    ERASURE = "erasure", _("Ended when the member's account was erased")


class Hold(models.Model):
    """One merchant suspends its own perks of one category for one unresolved obligation.

    It is shown to the member and to the merchant that placed it, never to anyone else, and
    it never changes the score. It ends when the merchant lifts it, when an
    `obligation_settled` event names its obligation, on appeal, or at its expiry at the latest.
    """

    ref = ref_field(HOLD_REF_PREFIX)
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="holds")
    merchant_ref = models.CharField(max_length=32)
    merchant_name = models.CharField(max_length=200)
    category = models.CharField(max_length=16, choices=HoldCategory.choices)
    reason_code = models.CharField(max_length=32, choices=HoldReason.choices)
    evidence = models.TextField()
    lift_condition = models.TextField(help_text=_("What the member must do to have the hold lifted."))
    obligation_ref = models.CharField(max_length=255)
    detail = models.TextField(
        blank=True, help_text=_("The merchant's account of the matter, shown to the member.")
    )
    lift_on = models.CharField(
        max_length=20,
        choices=[(HoldEnd.OBLIGATION_SETTLED.value, HoldEnd.OBLIGATION_SETTLED.label)],
        blank=True,
        help_text=_("Lifted by itself when the merchant reports the obligation settled."),
    )
    status = models.CharField(max_length=8, choices=HoldStatus.choices, default=HoldStatus.ACTIVE)
    placed_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_how = models.CharField(max_length=20, choices=HoldEnd.choices, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["member", "merchant_ref", "category"]),
            models.Index(fields=["expires_at"], condition=Q(status="active"), name="hold_active_expiry"),
        ]
        constraints = [
            unique_text("ref"),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("placed_at"))
                & Q(expires_at__lte=F("placed_at") + timedelta(days=HOLD_MAX_DAYS)),
                name="hold_expiry_within_limit",
            ),
            models.CheckConstraint(
                condition=(Q(status=HoldStatus.ACTIVE) & Q(lifted_at__isnull=True) & Q(lifted_how=""))
                | (~Q(status=HoldStatus.ACTIVE) & Q(lifted_at__isnull=False) & ~Q(lifted_how="")),
                name="hold_end_matches_status",
            ),
            models.UniqueConstraint(
                fields=["merchant_ref", "member", "obligation_ref"],
                condition=Q(status=HoldStatus.ACTIVE),
                name="hold_one_active_per_obligation",
            ),
        ]

    def __str__(self) -> str:
        return self.ref


class AppealStatus(models.TextChoices):
    OPEN = "open", _("Waiting for a decision")
    UPHELD = "upheld", _("Upheld: the hold was lifted")
    REJECTED = "rejected", _("Rejected: the hold stays")
    CLOSED = "closed", _("Closed: the hold ended before a decision")


class HoldAppeal(models.Model):
    """A member contests a hold; an operator decides."""

    hold = models.ForeignKey(Hold, on_delete=models.PROTECT, related_name="appeals")
    text = models.TextField()
    status = models.CharField(max_length=8, choices=AppealStatus.choices, default=AppealStatus.OPEN)
    filed_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decision_note = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "filed_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["hold"], condition=Q(status=AppealStatus.OPEN), name="appeal_one_open_per_hold"
            ),
            models.CheckConstraint(
                condition=(Q(status=AppealStatus.OPEN) & Q(decided_at__isnull=True))
                | (~Q(status=AppealStatus.OPEN) & Q(decided_at__isnull=False)),
                name="appeal_decision_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"appeal of {self.hold_id} ({self.status})"


class HoldAction(models.TextChoices):
    PLACED = "placed", _("Placed")
    LIFTED = "lifted", _("Lifted")
    EXPIRED = "expired", _("Expired")
    APPEAL_FILED = "appeal_filed", _("Appeal filed")
    APPEAL_UPHELD = "appeal_upheld", _("Appeal upheld")
    APPEAL_REJECTED = "appeal_rejected", _("Appeal rejected")


class HoldAuditEntry(models.Model):
    """Append-only: every step in a hold's life, who took it and why."""

    hold = models.ForeignKey(Hold, on_delete=models.PROTECT, related_name="audit")
    action = models.CharField(max_length=16, choices=HoldAction.choices)
    actor = models.CharField(max_length=160)
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.hold_id} {self.action} by {self.actor}"


class DisputeStatus(models.TextChoices):
    OPEN = "open", _("Waiting for the merchant")
    CONFIRMED = "confirmed", _("The merchant stands by it; an operator decides")
    UPHELD = "upheld", _("Upheld: the event counts again")
    OVERTURNED = "overturned", _("Overturned: the event was removed")
    LAPSED = "lapsed", _("Not resolved in time: removed in your favour")


DISPUTE_OPEN_STATUSES = (DisputeStatus.OPEN, DisputeStatus.CONFIRMED)
DISPUTE_REMOVED_STATUSES = (DisputeStatus.OVERTURNED, DisputeStatus.LAPSED)
# An event whose dispute is in one of these does not count (an upheld one counts again).
DISPUTE_NOT_COUNTING_STATUSES = (*DISPUTE_OPEN_STATUSES, *DISPUTE_REMOVED_STATUSES)
DISPUTE_DAYS = 30


class EventStatus(models.TextChoices):
    """Where an event stands, as its member and its merchant see it (derived, never stored)."""

    COUNTED = "counted", _("Counts")
    CAPPED = "capped", _("Does not count: past this merchant's cap")
    DISPUTED = "disputed", _("Disputed: does not count while the merchant answers")
    CONFIRMED = "confirmed", _("Disputed: the merchant stands by it, an operator decides")
    REMOVED = "removed", _("Removed after your dispute")


class Dispute(models.Model):
    """A member contests a score event (as a credit file is contested): it stops counting at
    once; the merchant may confirm it with evidence and an operator decides, or nobody does
    within the deadline and it is removed. An event is disputed at most once."""

    # No database FK: PostgreSQL cannot reference a partitioned table by its id alone (its
    # key includes the month). A dispute is opened by the service on an event it has just
    # read, inside the events' retention (which keeps every event a score counts).
    event = models.OneToOneField(
        ScoreEvent, on_delete=models.PROTECT, related_name="dispute", db_constraint=False
    )
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="disputes", db_index=False)
    merchant_ref = models.CharField(max_length=32)
    reason = models.TextField(help_text=_("The member's words."))
    status = models.CharField(max_length=12, choices=DisputeStatus.choices, default=DisputeStatus.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    evidence = models.TextField(blank=True, help_text=_("The merchant's, when it confirms the event."))
    confirmed_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decision_note = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["member", "-opened_at"]),
            models.Index(
                fields=["due_at"], condition=Q(status__in=["open", "confirmed"]), name="dispute_open_due"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status__in=["open", "confirmed"]) & Q(decided_at__isnull=True))
                | (~Q(status__in=["open", "confirmed"]) & Q(decided_at__isnull=False)),
                name="dispute_decision_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"dispute of {self.event_id} ({self.status})"


class DisputeChange(models.Model):
    """Append-only: every step of a dispute, who took it and why."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="history")
    status = models.CharField(max_length=12, choices=DisputeStatus.choices)
    actor = models.CharField(max_length=160)
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.status} by {self.actor}"
