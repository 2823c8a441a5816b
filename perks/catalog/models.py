from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.core.constraints import unique_text
from loyalty.core.refs import ref_field
from loyalty.scoring.models import SCORE_MAX, SCORE_MIN, Tier
from perks.merchants.models import Merchant

PERK_REF_PREFIX = "prk"


class PerkType(models.TextChoices):
    DEPOSIT_WAIVER = "deposit_waiver", _("Deposit waived")
    FX_MARGIN = "fx_margin", _("Better exchange rate")
    ACCESS_PASS = "access_pass", _("Access pass")
    FREE_ITEM = "free_item", _("Free item")
    DISCOUNT = "discount", _("Discount")


class PerkStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    ARCHIVED = "archived", _("Archived")


class LimitPeriod(models.TextChoices):
    """Calendar periods in the platform's time zone: "one free coffee a day" resets at midnight."""

    LIFETIME = "lifetime", _("Ever")
    DAY = "day", _("Per day")
    WEEK = "week", _("Per week")
    MONTH = "month", _("Per month")
    YEAR = "year", _("Per year")


class Perk(models.Model):
    """What a merchant offers members: a typed benefit, who may have it, and how many.

    `title` and `description` are English; `title_zh` and `description_zh` the optional
    Chinese (perks.catalog.wording picks by the active language). `params` holds the type's
    parameters (perks.catalog.params validates them), caps such as a deposit waiver's
    `max_amount` included. `issued_count` moves only by conditional UPDATE; the database
    refuses it past `inventory`.
    """

    ref = ref_field(PERK_REF_PREFIX)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="perks")
    type = models.CharField(max_length=16, choices=PerkType.choices)
    params = models.JSONField(encoder=DjangoJSONEncoder)
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    # The same in Simplified Chinese, for members reading the app in it; blank: the English shows.
    title_zh = models.CharField(_("title in Chinese"), max_length=120, blank=True)
    description_zh = models.TextField(_("description in Chinese"), blank=True)

    min_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    min_score = models.PositiveSmallIntegerField(null=True, blank=True)
    hold_free_days = models.PositiveSmallIntegerField(null=True, blank=True)
    points_cost = models.IntegerField(default=0)

    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField(null=True, blank=True)
    inventory = models.IntegerField(null=True, blank=True)
    issued_count = models.IntegerField(default=0, editable=False)
    per_member_limit = models.IntegerField(null=True, blank=True)
    limit_period = models.CharField(max_length=16, choices=LimitPeriod.choices, default=LimitPeriod.LIFETIME)
    uses_per_voucher = models.IntegerField(default=1)
    voucher_ttl_days = models.IntegerField(default=30)

    status = models.CharField(max_length=16, choices=PerkStatus.choices, default=PerkStatus.DRAFT)
    auto_issue = models.BooleanField(default=False)
    image = models.ImageField(upload_to="perks/", blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["merchant", "status"]),
            models.Index(fields=["min_tier"], condition=Q(auto_issue=True), name="perk_auto_issue_by_tier"),
        ]
        constraints = [
            unique_text("ref"),
            models.CheckConstraint(condition=Q(type__in=PerkType.values), name="perk_type_known"),
            models.CheckConstraint(condition=Q(status__in=PerkStatus.values), name="perk_status_known"),
            models.CheckConstraint(
                condition=Q(limit_period__in=LimitPeriod.values), name="perk_limit_period_known"
            ),
            models.CheckConstraint(condition=Q(issued_count__gte=0), name="perk_issued_count_not_negative"),
            models.CheckConstraint(
                condition=Q(inventory__isnull=True) | Q(issued_count__lte=F("inventory")),
                name="perk_issued_within_inventory",
            ),
            models.CheckConstraint(condition=Q(points_cost__gte=0), name="perk_points_cost_not_negative"),
            models.CheckConstraint(
                condition=Q(min_tier__isnull=True) | Q(min_score__isnull=True),
                name="perk_min_tier_or_min_score",
            ),
            models.CheckConstraint(
                condition=Q(min_score__isnull=True) | Q(min_score__gte=SCORE_MIN, min_score__lte=SCORE_MAX),
                name="perk_min_score_in_range",
            ),
            models.CheckConstraint(
                condition=Q(hold_free_days__isnull=True) | Q(hold_free_days__gte=1),
                name="perk_hold_free_days_positive",
            ),
            models.CheckConstraint(
                condition=Q(per_member_limit__isnull=True) | Q(per_member_limit__gte=1),
                name="perk_per_member_limit_positive",
            ),
            models.CheckConstraint(
                condition=Q(uses_per_voucher__gte=1), name="perk_uses_per_voucher_positive"
            ),
            models.CheckConstraint(condition=Q(voucher_ttl_days__gte=1), name="perk_voucher_ttl_positive"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="perk_validity_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(auto_issue=False) | Q(min_tier__isnull=False),
                name="perk_auto_issue_needs_tier",
            ),
        ]

    def __str__(self) -> str:
        return self.title
