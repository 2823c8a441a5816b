"""campaign_issue: a campaign to every member, end to end through a real Celery worker.

Ours: from `campaign_create` (a perk with no inventory or limit, to the lowest tier and
above, so every member is eligible) to the campaign's status `done`, with a real worker
process (`celery worker`, prefork) started here on the bench database and the configured
broker: the planner, every chunk's eligibility query, codes, voucher and notification
inserts, counters and the completion event, and the queue's round trips.

Floor: the same voucher rows (codes, members, times, every column) `COPY`ed into the
vouchers table itself, with its indexes, checks and foreign keys, and committed, after
the tables are emptied and vacuumed; on SQLite, `executemany`. Best of two each, alternating.

It runs in a database of its own (`<name>_bench`, dropped afterwards); members come from
`seed_demo --members`'s bulk path.
"""

import os
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.transaction import atomic

from bench.result import BenchResult, stopwatch
from bench.support.server import bench_database
from bench.support.worker import worker_process
from demo.synthetic import synthetic_members_add
from perks.catalog.models import PerkStatus, PerkType
from perks.catalog.services import perk_create
from perks.merchants.models import Merchant
from perks.merchants.services import merchant_create
from perks.vouchers.campaigns.services import campaign_create
from perks.vouchers.models import Campaign, CampaignStatus, Voucher

MEMBERS = {"quick": 100_000, "full": 1_000_000}
CONCURRENCY = int(os.environ.get("BENCH_CAMPAIGN_CONCURRENCY", "2"))
TIMEOUT_SECONDS = 1800
POLL_SECONDS = 0.1
RUNS = 2
COLUMNS = (
    "code",
    "perk_id",
    "merchant_id",
    "member_id",
    "status",
    "source",
    "campaign_id",
    "uses_allowed",
    "uses_count",
    "uses_reserved",
    "points_spent",
    "points_transaction_id",
    "claim_key",
    "issued_at",
    "valid_from",
    "expires_at",
    "status_changed_at",
)


def run(scale: str) -> BenchResult:
    members = MEMBERS[scale]
    with bench_database() as database_url:
        synthetic_members_add(count=members, seed=11)
        merchant, owner, perk = _merchant()
        ours, floors = [], []
        with worker_process(database_url, concurrency=CONCURRENCY):
            for _ in range(RUNS):
                _clear()
                with stopwatch() as watch:
                    campaign = campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="starter")
                    _wait_done(campaign)
                ours.append(watch.seconds)
                campaign.refresh_from_db()
                assert campaign.issued == members, (campaign.status, campaign.issued, campaign.failure)
                floors.append(_floor(campaign))
        chunks = campaign.chunks.count()
    value, floor = min(ours), min(floors)
    return BenchResult(
        name="campaign_issue",
        metric="seconds from campaign_create to done, one voucher to each of N members",
        value=round(value, 3),
        unit="s",
        floor=round(floor, 3),
        slowdown=round(value / floor, 2),
        scale={
            "scale": scale,
            "members": members,
            "vouchers": campaign.issued,
            "chunk_size": settings.CAMPAIGN_CHUNK_SIZE,
            "chunks": chunks,
            "worker_concurrency": CONCURRENCY,
            "database": connection.vendor,
            "broker": settings.CELERY_BROKER_URL.split(":", 1)[0],
        },
        notes=(
            f"ours: a real `celery worker --concurrency {CONCURRENCY}` process issues the campaign "
            "(plan, chunks with eligibility, codes, vouchers, notifications, counters, completion event); "
            "timed from campaign_create to status done. floor: the same voucher rows "
            + ("COPY" if connection.vendor == "postgresql" else "executemany")
            + "ed into the vouchers table (its indexes, checks and foreign keys), committed."
        ),
    )


def _merchant() -> tuple[Merchant, Any, Any]:
    owner = get_user_model().objects.create_user("owner@bench.perkline.test")
    merchant = merchant_create(name="Bench Coffee", category="coffee", owner=owner)
    perk = perk_create(
        merchant=merchant,
        actor=owner,
        type=PerkType.FREE_ITEM,
        title="A free flat white",
        params={"item": "Flat white"},
        status=PerkStatus.ACTIVE,
    )
    return merchant, owner, perk


def _wait_done(campaign: Campaign) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        status = Campaign.objects.values_list("status", flat=True).get(pk=campaign.pk)
        if status in (CampaignStatus.DONE, CampaignStatus.FAILED):
            return
        time.sleep(POLL_SECONDS)
    raise TimeoutError("the campaign did not finish")


def _floor(campaign: Campaign) -> float:
    rows = list(Voucher.objects.filter(campaign=campaign).order_by("pk").values_list(*COLUMNS))
    _clear()
    with stopwatch() as watch, atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY vouchers_voucher ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            adapt = connection.ops.adapt_datetimefield_value
            values = ", ".join(["%s"] * len(COLUMNS))
            cursor.executemany(
                f"INSERT INTO vouchers_voucher ({', '.join(COLUMNS)}) VALUES ({values})",  # nosec B608  # the benchmark's own tables; values are bound parameters
                [(*row[:13], *(adapt(value) for value in row[13:])) for row in rows],
            )
    return watch.seconds


def _clear() -> None:
    """Every run starts from the same tables: no vouchers or notifications, vacuumed."""
    with connection.cursor() as cursor:
        for table in ("vouchers_voucher", "members_notification"):
            cursor.execute(f"DELETE FROM {table}")  # nosec B608  # the benchmark's own tables; values are bound parameters
    _settle()


def _settle() -> None:
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
