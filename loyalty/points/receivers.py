"""What the points side does when the member side announces something (loyalty/members/events.py)."""

from datetime import datetime
from typing import Any

from loyalty.members.events import member_erased
from loyalty.members.models import Member
from loyalty.points.services.erasure import points_erase


def on_member_erased(sender: Any, *, member: Member, at: datetime, **kwargs: Any) -> None:
    points_erase(member_id=member.pk)


def connect() -> None:
    member_erased.connect(on_member_erased, dispatch_uid="points.erase")
