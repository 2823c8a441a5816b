"""points_earn: a nightly import of purchases, earned in bulk.

Ours: `points_earn_purchases` for N purchases over N/10 members (most with a tier, so the
multipliers apply), from the parsed purchases to committed transactions, postings, lots
and balances; the best of two runs, each for members of its own and a merchant of its own,
as the floor is the best of two (the machine is shared, and one slow moment should not
decide either figure). Floor: the same posting rows (two per purchase) written by the fastest plain
means, `COPY` into a table of the posting table's shape (its columns, checks and indexes)
and committed; on SQLite, `executemany` into such a table.

It runs in a database of its own (`<name>_bench`, made and migrated here, dropped after),
so the figures start from empty tables and the developer's data is left alone.
"""

import random
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.transaction import atomic
from django.utils import timezone

from bench.result import BenchResult, best_of, stopwatch
from loyalty.core.refs import new_ref
from loyalty.members.models import Member
from loyalty.points.models import Posting
from loyalty.points.services import Purchase, points_earn_purchases
from loyalty.scoring.models import MemberStanding, Tier

SIZES = {"quick": 20_000, "full": 1_000_000}
MEMBERS_PER_PURCHASE = 10
RUNS = 2


def run(scale: str) -> BenchResult:
    purchases = SIZES[scale]
    creation = connection.creation
    original_name = settings.DATABASES["default"]["NAME"]
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"{original_name}_bench"
    creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        return _measure(scale, purchases)
    finally:
        creation.destroy_test_db(original_name, verbosity=0)


def _measure(scale: str, count: int) -> BenchResult:
    rng = random.Random(4)  # nosec B311  # seeded for repeatable benchmark data, not for secrets
    # Each run earns for members of its own, so every run does the same work on fresh wallets.
    member_ids = _members(RUNS * count // MEMBERS_PER_PURCHASE, rng)
    timings = []
    for run in range(RUNS):
        merchant_ref = new_ref("mch")
        batch = _purchases(count, member_ids[run::RUNS], rng)
        with stopwatch() as ours:
            result = points_earn_purchases(
                merchant_ref=merchant_ref,
                merchant_name="Bench Coffee",
                merchant_category="coffee",
                purchases=batch,
            )
        assert result.earned == count, result
        timings.append(ours.seconds)
    rows = list(
        Posting.objects.filter(transaction__merchant_ref=merchant_ref).values_list(
            "transaction_id", "account_id", "amount"
        )
    )
    floor = best_of(RUNS, lambda: _floor_write(rows), before=_floor_table)
    value = min(timings)
    return BenchResult(
        name="points_earn",
        metric="seconds to earn points on a batch of purchases",
        value=value,
        unit="s",
        floor=floor,
        slowdown=value / floor,
        scale={
            "scale": scale,
            "purchases": count,
            "members": len(member_ids) // RUNS,
            "postings": len(rows),
            "points": result.points,
            "database": connection.vendor,
        },
        notes=(
            "ours: points_earn_purchases end to end (validation, staging, transactions, postings, lots, "
            "balances, commit with the deferred ledger check), best of "
            + str(RUNS)
            + " runs on fresh members; floor: the same posting rows written by "
            + ("COPY" if connection.vendor == "postgresql" else "executemany")
            + " into a table shaped like points_posting, committed, best of "
            + str(RUNS)
        ),
    )


def _members(count: int, rng: random.Random) -> list[int]:
    User = get_user_model()
    User.objects.bulk_create(
        (User(username=f"bench{i}@perkline.bench", email=f"bench{i}@perkline.bench") for i in range(count)),
        batch_size=5_000,
    )
    users = User.objects.filter(username__endswith="@perkline.bench").values_list("pk", flat=True)
    Member.objects.bulk_create((Member(user_id=pk) for pk in users.iterator()), batch_size=5_000)
    ids = list(Member.objects.values_list("pk", flat=True))
    tiers = list(Tier.objects.all())
    MemberStanding.objects.bulk_create(
        (
            MemberStanding(member_id=pk, score=tier.min_score, tier=tier)
            for pk in ids
            if (tier := rng.choice([*tiers, None])) is not None
        ),
        batch_size=5_000,
    )
    return ids


def _purchases(count: int, member_ids: list[int], rng: random.Random) -> list[Purchase]:
    night = timezone.now() - timedelta(days=1)
    return [
        Purchase(
            external_id=f"pos-{i}",
            member_id=rng.choice(member_ids),
            amount=Decimal(rng.randrange(500, 50_000)) / 100,
            currency="CNY" if i % 10 else "USD",
            occurred_at=night + timedelta(seconds=rng.randrange(86_400)),
        )
        for i in range(count)
    ]


def _floor_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_posting_floor")
        if connection.vendor == "postgresql":
            cursor.execute("CREATE TABLE bench_posting_floor (LIKE points_posting INCLUDING ALL)")
        else:
            cursor.execute(
                "CREATE TABLE bench_posting_floor (id integer PRIMARY KEY, transaction_id bigint NOT NULL,"
                " account_id bigint NOT NULL, amount bigint NOT NULL CHECK (amount <> 0))"
            )
            cursor.execute("CREATE INDEX bench_posting_floor_tx ON bench_posting_floor (transaction_id)")
            cursor.execute("CREATE INDEX bench_posting_floor_account ON bench_posting_floor (account_id, id)")


def _floor_write(rows: list[tuple[int, int, int]]) -> None:
    with atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(
                "COPY bench_posting_floor (transaction_id, account_id, amount) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(
                "INSERT INTO bench_posting_floor (transaction_id, account_id, amount) VALUES (%s, %s, %s)",
                rows,
            )
