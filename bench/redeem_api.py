"""POST /api/v1/redemptions through the whole served stack, against the cheapest
authenticated request on the same stack.

The stack: gunicorn (several gthread workers, keep-alive) on the bench database and Redis
(throttle counters, Celery broker), a load generator in separate processes. Single-use
vouchers are bulk inserted first, so every request redeems a fresh code, with a fresh
Idempotency-Key, as a point of sale does. In one run, against one server:

- the floor: `GET /api/v1/merchant` at its maximum rate (closed loop);
- redemptions at their maximum rate (closed loop), alternating with the floor, ROUNDS times;
- redemptions at STEADY_SHARE of the median rate (open loop), ROUNDS times, each counting
  by its p99: the latency a partner sees in steady use.

slowdown = median floor rate / median redemption rate; the target is ≤ 3, with a median
p99 < 50 ms at 60 % of the peak (docs/performance.md). Every request must succeed (201) on a
voucher no other phase used, and afterwards every answer must have been a redemption (none
a replay), none counted twice.
"""

import statistics
import uuid
from typing import Any

from bench.result import BenchResult
from bench.support.load import LoadResult, Workload, at_rate, http_request, max_rate
from bench.support.partner import bench_partner
from bench.support.redemptions import (
    check_redeemed,
    gold_members,
    redemption_body,
    redemption_perk,
    side_effects_parked,
    single_use_vouchers,
)
from bench.support.server import Server, bench_database, gunicorn

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
STEADY_SHARE = 0.6
# Floor and redemptions alternate this many times and each counts by its median, so that a
# slow moment of a shared machine weighs on neither alone.
ROUNDS = 3


def run(scale: str) -> BenchResult:
    config = SCALE[scale]
    with bench_database() as database_url:
        partner = bench_partner()
        codes = single_use_vouchers(
            partner, redemption_perk(partner), gold_members(config["members"]), config["vouchers"]
        )
        # A fresh share of the vouchers for each redemption phase: a request sent twice
        # would be answered as an idempotent replay, not redeemed.
        shares = [codes[i :: 2 * ROUNDS] for i in range(2 * ROUNDS)]
        floors: list[LoadResult] = []
        peaks: list[LoadResult] = []
        with (
            side_effects_parked() as parked,
            gunicorn(
                "config.wsgi:application",
                database_url=database_url,
                workers=config["workers"],
                threads=config["threads"],
                extra_env=parked,
            ) as api,
        ):
            for share in shares[:ROUNDS]:
                floors.append(_closed(api, _merchant_request(api, partner.key), config))
                peaks.append(_closed(api, _redemptions(api, partner.key, share), config))
            peak_rps = statistics.median(peak.rps for peak in peaks)
            steadies = [
                at_rate(
                    api.host,
                    api.port,
                    _redemptions(api, partner.key, share),
                    rate=STEADY_SHARE * peak_rps,
                    processes=config["processes"],
                    connections=4 * config["connections"],
                    seconds=config["seconds"],
                    warmup=config["warmup"],
                )
                for share in shares[ROUNDS:]
            ]
        for floor in floors:
            floor.require(200)
        for result in (*peaks, *steadies):
            result.require(201)
        check_redeemed(partner, redeemed=sum(result.completed for result in (*peaks, *steadies)))
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
            f"median peak, p99 median {statistics.median(steady.p99_ms for steady in steadies):.1f} ms: "
            f"{'; '.join(steady.summary() for steady in steadies)}. Floor GET /api/v1/merchant: "
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
        body = redemption_body(code)
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
