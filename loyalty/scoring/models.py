from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from loyalty.members.models import Member

SCORE_MIN = 350
SCORE_MAX = 950


class Tier(models.Model):
    """A score band. Bands are contiguous and do not overlap; `rank` orders them, low to high."""

    slug = models.SlugField(max_length=32, unique=True)
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
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.min_score}–{self.max_score})"


class MemberStanding(models.Model):
    """A member's current score and tier, cached beside the snapshots that explain them."""

    member = models.OneToOneField(Member, on_delete=models.CASCADE, primary_key=True, related_name="standing")
    score = models.PositiveSmallIntegerField()
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["tier", "score"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=SCORE_MIN) & Q(score__lte=SCORE_MAX), name="standing_score_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.score}"
