"""Domain events of the scoring side, sent after the transaction that caused them commits.

The merchant side subscribes (for example to issue the perks of a tier a member reaches);
the loyalty apps never import `perks`.

`tier_changed` is sent with `member_id` (int), `previous_tier` (a tier slug, or None when
the member has just joined), `tier` (a slug) and `changed_at` (an aware datetime).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db import transaction
from django.dispatch import Signal

log = logging.getLogger(__name__)

tier_changed = Signal()


@dataclass(frozen=True)
class TierChangeNotice:
    member_id: int
    previous_tier: str | None
    tier: str
    changed_at: datetime


def announce_on_commit(notices: Sequence[TierChangeNotice]) -> None:
    if notices:
        transaction.on_commit(partial(_announce, tuple(notices)))


def _announce(notices: Sequence[TierChangeNotice]) -> None:
    if not tier_changed.has_listeners(TierChangeNotice):
        return
    # One failing subscriber must not keep the others, or the later notices, from hearing.
    for notice in notices:
        outcomes = tier_changed.send_robust(
            sender=TierChangeNotice,
            member_id=notice.member_id,
            previous_tier=notice.previous_tier,
            tier=notice.tier,
            changed_at=notice.changed_at,
        )
        for receiver, result in outcomes:
            if isinstance(result, Exception):
                log.error(
                    "tier_changed receiver %r failed for member %s",
                    receiver,
                    notice.member_id,
                    exc_info=result,
                )
