"""POST /api/v1/redemptions through the whole served stack, against the cheapest
authenticated request on the same stack (issue 6).

The stack: gunicorn (several gthread workers, keep-alive) on the bench database and Redis
(throttle counters, Celery broker), a load generator in separate processes. Single-use
vouchers are bulk inserted first, so every request redeems a fresh code, with a fresh
Idempotency-Key, as a point of sale does. In one run, against one server:

- the floor: `GET /api/v1/merchant` at its maximum rate (closed loop);
- redemptions at their maximum rate (closed loop), alternating with the floor, ROUNDS times;
- redemptions at 70 % of the median rate (open loop): the latency a partner sees in
  steady use.

slowdown = median floor rate / median redemption rate; the goal is ≤ 2, with p99 < 50 ms
at 70 %. Every request must succeed (201) on a voucher no other phase used, and afterwards
every answer must have been a redemption (none a replay), none counted twice.
"""

import json
import random
import secrets
import statistics
import uuid
from datetime import timedelta
from typing import Any

from django.db.models import Count
from django.utils import timezone
from kombu import Queue

from bench.result import BenchResult
from bench.support.load import LoadResult, Workload, at_rate, http_request, max_rate
from bench.support.partner import BenchPartner, bench_partner
from bench.support.server import Server, bench_database, gunicorn
from loyalty.celery import app as celery_app
from loyalty.members.models import Member
from loyalty.scoring.models import MemberStanding, Tier
from perks.catalog.models import Perk
from perks.catalog.services import perk_create
from perks.vouchers.codes import code_format, codes_generate
from perks.vouchers.models import Redemption, Voucher, VoucherSource

SCALE: dict[str, dict[str, Any]] = {
    "quick": {
        "seconds": 3.0,
        "warmup": 1.0,
        "workers": 3,
        "threads": 4,
        "processes": 2,
        "connections": 8,
        "members": 2_000,
        "vouchers": 40_000,
    },
    "full": {
        "seconds": 15.0,
        "warmup": 3.0,
        "workers": 3,
        "threads": 4,
        "processes": 2,
        "connections": 8,
        "members": 20_000,
        "vouchers": 150_000,
    },
}
STEADY_SHARE = 0.7
# Floor and redemptions alternate this many times and each counts by its median, so that a
# slow moment of a shared machine weighs on neither alone.
ROUNDS = 3
INSERT_BATCH = 5_000
PURCHASE = {"amount": "42.00", "currency": "CNY"}


def run(scale: str) -> BenchResult:
    config = SCALE[scale]
    queue = f"perkline-bench-{secrets.token_hex(4)}"
    served = {
        "workers": config["workers"],
        "threads": config["threads"],
        # The side-effect drains the redemptions wake wait here, unconsumed, and go afterwards.
        "extra_env": {"CELERY_TASK_DEFAULT_QUEUE": queue},
    }
    with bench_database() as database_url:
        partner = bench_partner()
        codes = _vouchers(partner, _perk(partner), _members(config["members"]), config["vouchers"])
        # A fresh share of the vouchers for each redemption phase: a request sent twice
        # would be answered as an idempotent replay, not redeemed.
        shares = [codes[i :: ROUNDS + 1] for i in range(ROUNDS + 1)]
        floors: list[LoadResult] = []
        peaks: list[LoadResult] = []
        try:
            with gunicorn("loyalty.wsgi:application", database_url=database_url, **served) as api:
                for share in shares[:ROUNDS]:
                    floors.append(_closed(api, _merchant_request(api, partner.key), config))
                    peaks.append(_closed(api, _redemptions(api, partner.key, share), config))
                peak_rps = statistics.median(peak.rps for peak in peaks)
                steady = at_rate(
                    api.host,
                    api.port,
                    _redemptions(api, partner.key, shares[ROUNDS]),
                    rate=STEADY_SHARE * peak_rps,
                    processes=config["processes"],
                    connections=4 * config["connections"],
                    seconds=config["seconds"],
                    warmup=config["warmup"],
                )
        finally:
            _drop_queue(queue)
        for floor in floors:
            floor.require(200)
        for result in (*peaks, steady):
            result.require(201)
        _check_database(partner, redeemed=sum(result.completed for result in (*peaks, steady)))
    floor_rps = statistics.median(floor.rps for floor in floors)
    return BenchResult(
        name="redeem_api",
        metric="POST /api/v1/redemptions per second (closed loop, keep-alive, fresh voucher each)",
        value=peak_rps,
        unit="req/s",
        floor=floor_rps,
        slowdown=floor_rps / peak_rps,
        scale={**config, "steady_share": STEADY_SHARE, "rounds": ROUNDS},
        notes=(
            f"Medians of {ROUNDS} alternating rounds. Redemptions at peak: "
            f"{'; '.join(peak.summary() for peak in peaks)}. Redemptions at {STEADY_SHARE:.0%} of the "
            f"median peak: {steady.summary()}. Floor GET /api/v1/merchant: "
            f"{'; '.join(floor.summary() for floor in floors)}."
        ),
    )


def _merchant_request(server: Server, key: str) -> Workload:
    headers = {"Authorization": f"Bearer {key}"}
    return Workload([http_request("GET", "/api/v1/merchant", host=server.authority, headers=headers)])


def _redemptions(server: Server, key: str, codes: list[str]) -> Workload:
    """One request a voucher, each with its own Idempotency-Key; sent once at most."""
    requests = []
    for code in codes:
        headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        body = json.dumps({"code": code_format(code), **PURCHASE}).encode()
        requests.append(
            http_request("POST", "/api/v1/redemptions", host=server.authority, headers=headers, body=body)
        )
    return Workload(requests, unique=True)


def _closed(server: Server, workload: Workload, config: dict[str, Any]) -> LoadResult:
    return max_rate(
        server.host,
        server.port,
        workload,
        processes=config["processes"],
        connections=config["connections"],
        seconds=config["seconds"],
        warmup=config["warmup"],
    )


def _perk(partner: BenchPartner) -> Perk:
    """A realistic redemption: a discount computed on the amount, for a minimum score, with
    no hold in 90 days (every eligibility check a redemption repeats)."""
    return perk_create(
        merchant=partner.merchant,
        actor=partner.owner,
        type="discount",
        title="10 % off from score 600",
        params={"percent": "10", "currency": "CNY"},
        min_score=600,
        hold_free_days=90,
        status="active",
    )


def _members(count: int) -> list[int]:
    """`count` members at gold and above, bulk inserted with their standings."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    User.objects.bulk_create(
        (User(username=f"m{i}@redeem.bench", email=f"m{i}@redeem.bench") for i in range(count)),
        batch_size=INSERT_BATCH,
    )
    users = User.objects.filter(username__endswith="@redeem.bench").values_list("pk", flat=True)
    Member.objects.bulk_create((Member(user_id=pk) for pk in users.iterator()), batch_size=INSERT_BATCH)
    ids = list(Member.objects.values_list("pk", flat=True))
    tiers = list(Tier.objects.filter(min_score__gte=600))
    rng = random.Random(6)
    MemberStanding.objects.bulk_create(
        (
            MemberStanding(member_id=pk, score=tier.min_score, tier=tier)
            for pk in ids
            for tier in [rng.choice(tiers)]
        ),
        batch_size=INSERT_BATCH,
    )
    return ids


def _vouchers(partner: BenchPartner, perk: Perk, member_ids: list[int], count: int) -> list[str]:
    """`count` single-use vouchers of `perk`, spread over the members, bulk inserted."""
    now = timezone.now()
    codes = codes_generate(count)
    Voucher.objects.bulk_create(
        (
            Voucher(
                code=code,
                perk=perk,
                merchant=partner.merchant,
                member_id=member_ids[i % len(member_ids)],
                source=VoucherSource.MERCHANT,
                uses_allowed=1,
                issued_at=now - timedelta(minutes=1),
                valid_from=now - timedelta(minutes=1),
                expires_at=now + timedelta(days=30),
            )
            for i, code in enumerate(codes)
        ),
        batch_size=INSERT_BATCH,
    )
    random.Random(7).shuffle(codes)
    return codes


def _check_database(partner: BenchPartner, *, redeemed: int) -> None:
    """No voucher used twice, and a redemption row behind every 201 counted (an idempotent
    replay answers 201 too, and writes nothing)."""
    if Redemption.objects.filter(merchant=partner.merchant).count() < redeemed:
        raise RuntimeError("fewer redemptions than 201 answers: some were replays")
    twice = (
        Redemption.objects.filter(merchant=partner.merchant)
        .values("voucher")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    if twice.exists():
        raise RuntimeError("a voucher was redeemed twice")
    over = Voucher.objects.filter(merchant=partner.merchant, uses_count__gt=1)
    if over.exists():
        raise RuntimeError("a voucher counts more uses than it allows")


def _drop_queue(name: str) -> None:
    with celery_app.connection_for_write() as connection:
        queue = Queue(name).bind(connection.default_channel)
        queue.purge()
        queue.delete()
