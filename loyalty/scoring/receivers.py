"""What the scoring side does when the member side announces something (loyalty/members/events.py)."""

from datetime import datetime
from typing import Any

from loyalty.members.events import check_verified, consent_changed, member_erased, member_joined
from loyalty.members.models import Member
from loyalty.scoring.services import score_verification_record, standing_consent_apply, standing_create
from loyalty.scoring.services.erasure import score_erase


def on_member_joined(sender: Any, *, member: Member, **kwargs: Any) -> None:
    standing_create(member=member)


def on_consent_changed(sender: Any, *, member_id: int, dimension: str, granted: bool, **kwargs: Any) -> None:
    standing_consent_apply(member_id=member_id, dimension=dimension, granted=granted)


def on_check_verified(
    sender: Any, *, member: Member, check: str, verified_at: datetime, **kwargs: Any
) -> None:
    score_verification_record(member=member, check=check, verified_at=verified_at)


def on_member_erased(sender: Any, *, member: Member, at: datetime, **kwargs: Any) -> None:
    score_erase(member=member, now=at)


def connect() -> None:
    member_joined.connect(on_member_joined, dispatch_uid="scoring.standing_create")
    consent_changed.connect(on_consent_changed, dispatch_uid="scoring.standing_consent_apply")
    check_verified.connect(on_check_verified, dispatch_uid="scoring.verification_record")
    member_erased.connect(on_member_erased, dispatch_uid="scoring.erase")
