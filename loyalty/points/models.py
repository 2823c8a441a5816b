"""The double-entry points ledger.

Every movement of points is a `PointsTransaction` of two or more `Posting`s that sum to
zero. A posting's amount is signed from its account's point of view: positive adds to the
account's balance, negative takes from it. So across all accounts the balances always sum
to zero, and each balance reads as follows:

- a member wallet: the points the member holds (never negative, the database checks it);
- a merchant funding account: minus the points the merchant has put into members' wallets,
  plus those spent on its perks; negative means points it funded and is billed for;
- the platform's `issuance` account: minus the points the platform granted at its own cost
  (manual adjustments), so it is normally negative;
- `breakage`: the points spent on rewards no merchant funds, which left circulation;
- `expiry`: the points that expired unspent.

Postings and transactions are never updated or deleted (on PostgreSQL triggers refuse it);
a mistake is undone by a compensating transaction whose `reverses` names the original.
Earned points live in lots, one per wallet and day earned, which expire together; every
change of a lot is made under the row lock of its wallet.

The ledger's hot tables (transactions, postings) hold their references without per-row
foreign-key triggers: on PostgreSQL one deferred constraint trigger checks, set-based at
commit, that the postings of the transaction balance and that every reference resolves
(migration 0002). That is what lets a nightly import of a million purchases run as a few
set-based statements instead of millions of single-row look-ups.
"""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from loyalty.core.constraints import unique_text
from loyalty.members.models import Member
from loyalty.scoring.models import Tier

MERCHANT_REF_MAX_LENGTH = 40
IDEMPOTENCY_KEY_MAX_LENGTH = 255


class AccountKind(models.TextChoices):
    MEMBER = "member", "Member wallet"
    MERCHANT = "merchant", "Merchant funding"
    PLATFORM = "platform", "Platform"


class PlatformAccount(models.TextChoices):
    ISSUANCE = "issuance", "Issuance"
    BREAKAGE = "breakage", "Breakage"
    EXPIRY = "expiry", "Expiry"


class Account(models.Model):
    kind = models.CharField(max_length=16, choices=AccountKind.choices)
    member = models.OneToOneField(
        Member, on_delete=models.PROTECT, null=True, blank=True, related_name="points_wallet"
    )
    merchant_ref = models.CharField(max_length=MERCHANT_REF_MAX_LENGTH, null=True, blank=True)  # noqa: DJ001
    platform = models.CharField(max_length=16, choices=PlatformAccount.choices, null=True, blank=True)  # noqa: DJ001
    balance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        kind=AccountKind.MEMBER,
                        member__isnull=False,
                        merchant_ref__isnull=True,
                        platform__isnull=True,
                    )
                    | Q(
                        kind=AccountKind.MERCHANT,
                        member__isnull=True,
                        merchant_ref__isnull=False,
                        platform__isnull=True,
                    )
                    | Q(
                        kind=AccountKind.PLATFORM,
                        member__isnull=True,
                        merchant_ref__isnull=True,
                        platform__isnull=False,
                    )
                ),
                name="points_account_one_owner_of_its_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind=AccountKind.MEMBER) | Q(balance__gte=0),
                name="points_member_wallet_never_negative",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == AccountKind.MEMBER:
            return f"wallet of member {self.member_id}"
        if self.kind == AccountKind.MERCHANT:
            return f"funding of {self.merchant_ref}"
        return f"platform {self.platform}"


class EarnRule(models.Model):
    """Points per unit of currency spent at a merchant category, from `effective_from` on.

    Rules are versions: a change is a new row with a later `effective_from`, never an edit,
    so a transaction keeps pointing at the rule it was earned under.
    """

    merchant_category = models.CharField(max_length=32)
    currency = models.CharField(max_length=3)
    points_per_unit = models.DecimalField(max_digits=10, decimal_places=4)
    effective_from = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["merchant_category", "currency", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant_category", "currency", "effective_from"],
                name="points_earn_rule_one_version_at_a_time",
            ),
            models.CheckConstraint(
                condition=Q(points_per_unit__gte=0), name="points_earn_rule_rate_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="points_earn_rule_iso_currency"
            ),
        ]

    def __str__(self) -> str:
        since = f"{self.effective_from:%Y-%m-%d}"
        return f"{self.merchant_category} {self.currency}: {self.points_per_unit}/unit from {since}"


class TierMultiplier(models.Model):
    """What a tier multiplies earned points by, from `effective_from` on (versions, like EarnRule)."""

    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    multiplier = models.DecimalField(max_digits=5, decimal_places=3)
    effective_from = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["tier__rank", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["tier", "effective_from"], name="points_tier_multiplier_one_version_at_a_time"
            ),
            models.CheckConstraint(condition=Q(multiplier__gt=0), name="points_tier_multiplier_positive"),
        ]

    def __str__(self) -> str:
        return f"tier {self.tier_id} ×{self.multiplier} from {self.effective_from:%Y-%m-%d}"


class TransactionKind(models.TextChoices):
    EARN = "earn", "Earn"
    SPEND = "spend", "Spend"
    EXPIRE = "expire", "Expire"
    ADJUST = "adjust", "Adjustment"
    REVERSE = "reverse", "Reversal"
    ERASE = "erase", "Erasure"


class PointsTransaction(models.Model):
    idempotency_key = models.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
    kind = models.CharField(max_length=16, choices=TransactionKind.choices)
    reason_code = models.CharField(max_length=40)
    reason_params = models.JSONField(default=dict, blank=True)
    # Who caused it: "member:mem_…", "merchant:mch_…", "operator:<username>", "system:<job>".
    actor = models.CharField(max_length=200)
    merchant_ref = models.CharField(max_length=MERCHANT_REF_MAX_LENGTH, blank=True, default="")
    reverses = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversals",
        db_constraint=False,
        db_index=False,
    )
    earn_rule = models.ForeignKey(
        EarnRule,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    tier_multiplier = models.ForeignKey(
        TierMultiplier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # A digest of the request, so a replay of the key with another request is refused.
    # Empty for purchase earns: their key is the partner's event id and a repeat is a duplicate.
    request_hash = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reverses"],
                condition=Q(reverses__isnull=False),
                name="points_transaction_reversed_once",
            ),
            unique_text("idempotency_key"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key}"


class Posting(models.Model):
    transaction = models.ForeignKey(
        PointsTransaction, on_delete=models.PROTECT, related_name="postings", db_constraint=False
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="postings", db_constraint=False, db_index=False
    )
    amount = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["account", "id"], name="points_posting_account_id")]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="points_posting_not_zero")]

    def __str__(self) -> str:
        return f"{self.amount:+d} to account {self.account_id}"


class PointsLot(models.Model):
    """The points a wallet earned on one day, which expire together."""

    # Looked up through the (account, earned_on) unique index; no index of its own.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lots", db_index=False)
    earned_on = models.DateField()
    expires_on = models.DateField()
    points = models.BigIntegerField()
    remaining = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "earned_on"], name="points_lot_one_per_wallet_and_day"
            ),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("points")),
                name="points_lot_remaining_in_range",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_on", "account"],
                condition=Q(remaining__gt=0),
                name="points_lot_open_by_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.points} earned {self.earned_on}, expires {self.expires_on}"


class LotMovement(models.Model):
    """Which lots a debit consumed (negative) or a reversal gave back (positive).

    Earning adds to the lot of its wallet and day, which the earn transaction names through
    its posting and `occurred_at`, so earns record no movement.
    """

    transaction = models.ForeignKey(PointsTransaction, on_delete=models.PROTECT, related_name="lot_movements")
    lot = models.ForeignKey(PointsLot, on_delete=models.PROTECT, related_name="movements")
    points = models.BigIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(points=0), name="points_lot_movement_not_zero")]

    def __str__(self) -> str:
        return f"{self.points:+d} on lot {self.lot_id}"
