"""`seed_demo --members N`: synthetic members for load tests, inserted in bulk.

Each gets a user (one shared unusable password hash: nobody signs in as them), a member
with a fresh ref, consents (some shared, some withdrawn, with their history) and a standing
whose score is spread evenly over the tiers, and no link with any merchant. They have no
events, so the nightly run brings them back towards the baseline, through the grace period
like anyone else.

On PostgreSQL the generated rows are COPYed into a temporary table and the real tables are
filled by set-based INSERT ... SELECT in ref order, so every index grows at its right edge.
As pg_restore does, the foreign keys of the tables filled are dropped for the load and added
back in the same transaction: PostgreSQL then checks each constraint with one join instead
of millions of per-row checks, and nobody sees the tables without them (demo/sql.py).
Elsewhere (the SQLite demo) rows go in by large bulk_create batches, which write the same
rows: tests/demo/test_sql.py compares the two.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from demo import sql
from loyalty.core.refs import new_refs
from loyalty.members.models import Consent, ConsentChange, ConsentSource, Member
from loyalty.scoring.engine import ENGINE
from loyalty.scoring.models import DIMENSION_BITS, MemberStanding, Tier

EMAIL_DOMAIN = "load.perkline.test"
BATCH = 5000
# Shared-dimension masks and how often they occur: most members share a little, few everything.
SHARING = [(0, 20), (1, 25), (1 | 4, 20), (1 | 2, 15), (1 | 2 | 4, 10), (1 | 8, 5), (31, 5)]


@dataclass(frozen=True)
class Synthetic:
    ref: str
    score: int
    tier_id: int
    shared: int
    withdrawn: int


def synthetic_members_add(*, count: int, seed: int | None = None) -> list[str]:
    """Add `count` synthetic members; returns their refs. They are linked to no merchant:
    they stand for the members a merchant has never met, whom campaigns reach without
    naming them and whose refs no key may use."""
    rng = random.Random(seed)  # nosec B311  # seeded for repeatable demo data, not for secrets
    rows = list(_generate(count, rng))
    now = timezone.now()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _insert_postgres(rows, now)
        else:
            _insert_batches(rows, now)
    return [row.ref for row in rows]


def _generate(count: int, rng: random.Random) -> Iterator[Synthetic]:
    tiers = rng.choices(list(Tier.objects.order_by("rank")), k=count)
    masks, weights = zip(*SHARING, strict=True)
    shared = rng.choices(masks, weights, k=count)
    unshared = {mask: [bit for bit in DIMENSION_BITS.values() if not mask & bit] for mask in masks}
    for ref, tier, mask in zip(new_refs("mem", count), tiers, shared, strict=True):
        withdrawn = rng.choice(unshared[mask]) if unshared[mask] and rng.random() < 0.2 else 0
        score = tier.min_score + int(rng.random() * (tier.max_score - tier.min_score + 1))
        yield Synthetic(ref, score, tier.pk, mask, withdrawn)


def _insert_postgres(rows: list[Synthetic], now: datetime) -> None:
    params: dict[str, Any] = {
        "password": make_password(None),
        "now": now,
        "domain": EMAIL_DOMAIN,
        "engine": ENGINE.version,
    }
    sql.synthetic_members_load(
        (
            (row.ref, row.score, row.tier_id, row.shared, row.withdrawn)
            for row in sorted(rows, key=lambda row: row.ref)
        ),
        params,
    )


def _insert_batches(rows: list[Synthetic], now: datetime) -> None:
    password = make_password(None)
    user_model = get_user_model()
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        users = user_model.objects.bulk_create(
            [
                user_model(
                    username=f"{row.ref}@{EMAIL_DOMAIN}", email=f"{row.ref}@{EMAIL_DOMAIN}", password=password
                )
                for row in batch
            ]
        )
        members = Member.objects.bulk_create(
            [Member(user=user, ref=row.ref, joined_at=now) for user, row in zip(users, batch, strict=True)]
        )
        MemberStanding.objects.bulk_create(
            [
                MemberStanding(
                    member=member,
                    score=row.score,
                    tier_id=row.tier_id,
                    shared_dimensions=row.shared,
                    engine_version=ENGINE.version,
                    updated_at=now,
                )
                for member, row in zip(members, batch, strict=True)
            ]
        )
        consents, changes = [], []
        for member, row in zip(members, batch, strict=True):
            for dimension, bit in DIMENSION_BITS.items():
                if (row.shared | row.withdrawn) & bit:
                    granted = bool(row.shared & bit)
                    consents.append(
                        Consent(member=member, dimension=dimension, granted=granted, changed_at=now)
                    )
                    changes += [
                        ConsentChange(
                            member=member,
                            dimension=dimension,
                            granted=choice,
                            source=ConsentSource.SEED,
                            changed_at=now,
                        )
                        for choice in ([True] if granted else [True, False])
                    ]
        Consent.objects.bulk_create(consents)
        ConsentChange.objects.bulk_create(changes)
