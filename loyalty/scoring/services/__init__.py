"""The scoring side's services: what changes score events, disputes, standings, tiers and holds."""

from loyalty.scoring.services.disputes import (
    dispute_confirm,
    dispute_decide,
    dispute_open,
    disputes_lapse,
)
from loyalty.scoring.services.holds import (
    hold_appeal,
    hold_appeal_decide,
    hold_lift,
    hold_place,
    holds_expire,
    holds_lift_by_obligation,
)
from loyalty.scoring.services.ingest import (
    RecordResult,
    ScoreEventInput,
    score_events_record,
    score_verification_record,
)
from loyalty.scoring.services.recompute import (
    RecomputeOutcome,
    recompute_request,
    score_recompute,
    score_recompute_pending,
    scores_recompute_all,
    standing_consent_apply,
    standing_create,
    tiers_downgrade_due,
)
from loyalty.scoring.services.tiers import tier_bands_check, tier_save

__all__ = [
    "RecomputeOutcome",
    "RecordResult",
    "ScoreEventInput",
    "dispute_confirm",
    "dispute_decide",
    "dispute_open",
    "disputes_lapse",
    "hold_appeal",
    "hold_appeal_decide",
    "hold_lift",
    "hold_place",
    "holds_expire",
    "holds_lift_by_obligation",
    "recompute_request",
    "score_events_record",
    "score_recompute",
    "score_recompute_pending",
    "score_verification_record",
    "scores_recompute_all",
    "standing_consent_apply",
    "standing_create",
    "tier_bands_check",
    "tier_save",
    "tiers_downgrade_due",
]
