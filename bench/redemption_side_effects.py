"""redemption_side_effects: the drain of redemptions' side effects, against COPY of its rows.

Ours: `redemption_side_effects_due()`, run here, over N redemptions left due (bulk
inserted as a load run leaves them: every one a fresh voucher's use, at merchants with 0
to 3 endpoints subscribed to `voucher.redeemed`, half of them at a location, by members
who redeem at several merchants): the usage rows, the webhook events and their
deliveries, the look-up records, the notifications, the members' links with the
merchants, each redemption marked done, and the webhook tasks queued (one an endpoint at
a time, to a queue no worker consumes here, dropped afterwards). Timed from the call to
its return, every batch committed.

Floor: exactly the rows the drain wrote, read back after our run, `COPY`ed into their
tables (with their indexes, checks and foreign keys) and the redemptions marked done with
one UPDATE, in one transaction; on SQLite, `executemany`. Each run starts from the same
tables: the side effects' tables emptied, every redemption due again, vacuumed. Best of
RUNS each, alternating.

It runs in a database of its own (`<name>_bench`, dropped afterwards).
"""

import random
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.transaction import atomic
from django.test.utils import override_settings
from django.utils import timezone

from bench.result import BenchResult, stopwatch
from bench.support.redemptions import INSERT_BATCH, gold_members
from bench.support.server import bench_database
from bench.support.worker import queue_purge, tasks_parked
from loyalty.members.models import MemberLookup, MerchantLink, Notification, NotificationKey
from perks.catalog.perk_benefit import benefit_compute
from perks.catalog.services import perk_create
from perks.merchants.models import Location, WebhookAttempt, WebhookAttemptKey, WebhookDelivery, WebhookEvent
from perks.merchants.services import location_create, merchant_create, webhook_endpoint_create
from perks.vouchers.codes import codes_generate
from perks.vouchers.models import (
    Redemption,
    RedemptionChannel,
    UsageKey,
    UsageRecord,
    Voucher,
    VoucherSource,
    VoucherStatus,
)
from perks.vouchers.services.side_effects import DRAIN_BATCH, redemption_side_effects_due

SCALE = {
    "quick": {"redemptions": 10_000, "members": 2_000, "merchants": 40},
    "full": {"redemptions": 100_000, "members": 20_000, "merchants": 40},
}
RUNS = 2
# The tables the drain inserts into, in an order their foreign keys allow (attempts and
# their keys only reference deliveries, and are emptied with them). The key tables keep
# usage and notifications once (partitioned history, docs/operations.md).
WRITTEN = (
    UsageKey,
    UsageRecord,
    WebhookEvent,
    WebhookDelivery,
    MemberLookup,
    NotificationKey,
    Notification,
    MerchantLink,
)
EMPTIED_WITH = (WebhookAttemptKey, WebhookAttempt)


@dataclass(frozen=True)
class Shop:
    merchant_id: int
    perk: Any
    location_id: int
    endpoints: int


def run(scale: str) -> BenchResult:
    config = SCALE[scale]
    with bench_database():
        shops = _shops(config["merchants"])
        members = gold_members(config["members"])
        _redemptions_due(shops, members, config["redemptions"])
        ours, cpu, floors, copies = [], [], [], []
        written: dict[str, bytes | list[tuple[Any, ...]]] = {}
        queued = 0
        for _ in range(RUNS):
            _reset()
            # As production runs it: without DEBUG's log of every query (the floor's COPY
            # bypasses it anyway).
            with tasks_parked() as queue:
                with override_settings(DEBUG=False), stopwatch() as watch:
                    started_cpu = time.process_time()
                    applied = redemption_side_effects_due()
                    cpu.append(time.process_time() - started_cpu)
                queued = queue_purge(queue)
            ours.append(watch.seconds)
            if applied != config["redemptions"]:
                raise RuntimeError(f"the drain applied {applied} of {config['redemptions']} redemptions")
            written = _written()
            counts = {model._meta.db_table: model.objects.count() for model in WRITTEN}
            _reset()
            floor, copy = _floor(written)
            floors.append(floor)
            copies.append(copy)
    value, floor = min(ours), min(floors)
    redemptions = config["redemptions"]
    endpoints = sum(shop.endpoints for shop in shops)
    return BenchResult(
        name="redemption_side_effects",
        metric=f"seconds to apply the side effects of {redemptions:,} due redemptions",
        value=round(value, 3),
        unit="s",
        floor=round(floor, 3),
        slowdown=round(value / floor, 2),
        scale={
            "scale": scale,
            **config,
            "endpoints": endpoints,
            "drain_batch": DRAIN_BATCH,
            "rows": counts,
            "webhook_tasks_queued": queued,
            "database": connection.vendor,
        },
        notes=(
            f"ours: redemption_side_effects_due() in this process, {DRAIN_BATCH} redemptions a "
            f"transaction; runs {', '.join(f'{s:.2f}' for s in ours)} s, "
            f"{value / redemptions * 1e6:.0f} us a redemption; CPU of this process "
            f"{min(cpu) / redemptions * 1e6:.0f} us a redemption (PostgreSQL's and Redis's not in it). "
            f"{config['merchants']} merchants with 0 to 3 endpoints ({endpoints} in all); "
            f"{queued} webhook tasks queued for {counts[WebhookDelivery._meta.db_table]:,} deliveries. "
            "floor: the same rows "
            + ("COPY" if connection.vendor == "postgresql" else "executemany")
            + f"ed into their tables and the redemptions marked done by one UPDATE, committed: "
            f"runs {', '.join(f'{s:.2f}' for s in floors)} s (of which the inserts "
            f"{', '.join(f'{s:.2f}' for s in copies)} s)."
        ),
    )


def _shops(count: int) -> list[Shop]:
    """`count` merchants, a quarter each with 0, 1, 2 and 3 endpoints, each with a discount
    perk and a location, made through the services."""
    shops = []
    for i in range(count):
        owner = get_user_model().objects.create_user(f"owner{i}@side-effects.bench")
        merchant = merchant_create(name=f"Bench Shop {i}", category="coffee", owner=owner)
        perk = perk_create(
            merchant=merchant,
            actor=owner,
            type="discount",
            title="10 % off",
            params={"percent": "10", "currency": "CNY"},
            status="active",
        )
        location = location_create(merchant=merchant, actor=owner, name="Counter", code="C1")
        endpoints = i % 4
        for n in range(endpoints):
            webhook_endpoint_create(
                merchant=merchant,
                actor=owner,
                url=f"https://hooks.example.com/bench/{i}/{n}",
                event_types=["voucher.redeemed"],
            )
        shops.append(Shop(merchant.pk, perk, location.pk, endpoints))
    return shops


def _redemptions_due(shops: list[Shop], members: list[int], count: int) -> None:
    """`count` single-use vouchers, each used once by a redemption still due, bulk inserted."""
    rng = random.Random(18)  # nosec B311  # seeded for repeatable benchmark data, not for secrets
    now = timezone.now()
    picks = [(rng.choice(shops), rng.choice(members)) for _ in range(count)]
    vouchers = Voucher.objects.bulk_create(
        (
            Voucher(
                code=code,
                perk=shop.perk,
                merchant_id=shop.merchant_id,
                member_id=member_id,
                source=VoucherSource.MERCHANT,
                status=VoucherStatus.REDEEMED,
                uses_allowed=1,
                uses_count=1,
                issued_at=now - timedelta(days=1),
                valid_from=now - timedelta(days=1),
                expires_at=now + timedelta(days=30),
            )
            for code, (shop, member_id) in zip(codes_generate(count), picks, strict=True)
        ),
        batch_size=INSERT_BATCH,
    )
    amount = Decimal("42.00")
    benefits = {
        shop.merchant_id: benefit_compute(
            perk=shop.perk, amount=amount, currency="CNY", uses_remaining=0
        ).as_dict()
        for shop in shops
    }
    Redemption.objects.bulk_create(
        (
            Redemption(
                voucher=voucher,
                merchant_id=shop.merchant_id,
                location_id=shop.location_id if i % 2 else None,
                channel=RedemptionChannel.API,
                amount=amount,
                currency="CNY",
                benefit=benefits[shop.merchant_id],
                actor="key:bench",
                occurred_at=now - timedelta(seconds=count - i),
                created_at=now - timedelta(seconds=count - i),
            )
            for i, (voucher, (shop, _)) in enumerate(zip(vouchers, picks, strict=True))
        ),
        batch_size=INSERT_BATCH,
    )
    if Location.objects.count() != len(shops):
        raise RuntimeError("a shop has more than its one location")


def _columns(model: Any) -> list[str]:
    return [field.column for field in model._meta.concrete_fields]


def _written() -> dict[str, bytes | list[tuple[Any, ...]]]:
    """Every row of the tables the drain inserts into, as COPY writes them out (on SQLite,
    as rows)."""
    found: dict[str, bytes | list[tuple[Any, ...]]] = {}
    with connection.cursor() as cursor:
        for model in WRITTEN:
            table, columns = model._meta.db_table, ", ".join(_columns(model))
            select = f"SELECT {columns} FROM {table}"  # nosec B608  # the benchmark's own tables and columns
            if connection.vendor == "postgresql":
                # A query: COPY cannot read a partitioned table (the history's) by its name.
                with cursor.cursor.copy(f"COPY ({select}) TO STDOUT") as copy:
                    found[table] = b"".join(bytes(chunk) for chunk in copy)
            else:
                cursor.execute(select)
                found[table] = cursor.fetchall()
    return found


def _floor(written: dict[str, bytes | list[tuple[Any, ...]]]) -> tuple[float, float]:
    """The same rows inserted by the plainest means and the redemptions marked done, in one
    transaction: its seconds, and those of the inserts alone."""
    with stopwatch() as watch, atomic(), connection.cursor() as cursor:
        started = time.perf_counter()
        for model in WRITTEN:
            table, columns = model._meta.db_table, _columns(model)
            rows = written[table]
            if isinstance(rows, bytes):
                with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    copy.write(rows)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # nosec B608  # the benchmark's own tables; values are bound parameters
        inserts = time.perf_counter() - started
        cursor.execute(
            f"UPDATE {Redemption._meta.db_table} SET side_effects_at = %s WHERE side_effects_at IS NULL",  # nosec B608  # the benchmark's own tables; values are bound parameters
            [connection.ops.adapt_datetimefield_value(timezone.now())],
        )
    return watch.seconds, inserts


def _reset() -> None:
    """Every run starts from the same tables: the side effects' emptied, every redemption
    due again, vacuumed."""
    tables = [model._meta.db_table for model in (*EMPTIED_WITH, *WRITTEN)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)}")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")  # nosec B608  # the benchmark's own tables; values are bound parameters
        cursor.execute(f"UPDATE {Redemption._meta.db_table} SET side_effects_at = NULL")  # nosec B608  # the benchmark's own tables; values are bound parameters
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
