"""POST /api/v1/redemptions through the whole served stack, against the cheapest
authenticated request on the same stack; and the same redemptions with their side effects
applied as production applies them, beside it.

The stack: gunicorn (several gthread workers, keep-alive) on the bench database and Redis
(throttle counters, Celery broker), a load generator in separate processes. Single-use
vouchers are bulk inserted first, so every request redeems a fresh code, with a fresh
Idempotency-Key, as a point of sale does. In one run, against one server:

- the floor: `GET /api/v1/merchant` at its maximum rate (closed loop);
- redemptions at their maximum rate (closed loop), the request path alone: the drains
  their commits wake wait in the server's queue, which no worker consumes;
- the whole: redemptions at their maximum rate with a `celery worker` process (prefork,
  WORKER_CONCURRENCY, as the Procfile runs it) consuming that queue on the same cores,
  draining their side effects as they come; counted over the phase and the time after it
  until no redemption is left due, so side effects left behind are not counted as done;
- these three alternate, ROUNDS times, each counting by its median;
- redemptions at STEADY_SHARE of the median request-path rate (open loop), ROUNDS times,
  each counting by its p99: the latency a partner sees in steady use.

slowdown = median floor rate / median redemption rate; the target is ≤ 3, with a median
p99 < 50 ms at 60 % of the peak, and the whole at 70 % of the request path at least
(docs/performance.md). Before a whole phase, what the others left due is applied here,
untimed, and their wake-ups are dropped. Every request must succeed (201) on a voucher no
other phase used; afterwards every answer must have been a redemption (none a replay),
none counted twice, and every redemption's side effects applied exactly once.
"""

import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench.result import BenchResult
from bench.support.load import LoadResult, Workload, at_rate, http_request, max_rate
from bench.support.partner import BenchPartner, bench_partner
from bench.support.redemptions import (
    check_redeemed,
    gold_members,
    redemption_body,
    redemption_perk,
    single_use_vouchers,
)
from bench.support.server import Server, bench_database, gunicorn, served_environment
from bench.support.worker import bench_queue, queue_drop, queue_purge, tasks_parked, worker_process
from perks.merchants.models import WebhookEvent
from perks.vouchers.models import Redemption, UsageRecord
from perks.vouchers.services.side_effects import redemption_side_effects_due

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
# Floor, request path and whole alternate this many times and each counts by its median,
# so that a slow moment of a shared machine weighs on none alone.
ROUNDS = 3
WORKER_CONCURRENCY = 2
DRAINED_TIMEOUT_SECONDS = 600
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Whole:
    """A whole phase: the load's result, and how long after it the last side effects took."""

    load: LoadResult
    catch_up: float

    @property
    def rps(self) -> float:
        """Redemptions a second, side effects included: those answered in the phase over the
        phase and its catch-up."""
        return self.load.completed / (self.load.seconds + self.catch_up)

    def summary(self) -> str:
        return f"{self.rps:,.0f} redemptions/s with {self.catch_up:.1f} s to catch up ({self.load.summary()})"


def run(scale: str) -> BenchResult:
    config = SCALE[scale]
    with bench_database() as database_url:
        partner = bench_partner()
        codes = single_use_vouchers(
            partner, redemption_perk(partner), gold_members(config["members"]), config["vouchers"]
        )
        # A fresh share of the vouchers for each redemption phase: a request sent twice
        # would be answered as an idempotent replay, not redeemed.
        shares = [codes[i :: 3 * ROUNDS] for i in range(3 * ROUNDS)]
        floors: list[LoadResult] = []
        peaks: list[LoadResult] = []
        wholes: list[Whole] = []
        queue = bench_queue()
        try:
            with gunicorn(
                "config.wsgi:application",
                database_url=database_url,
                workers=config["workers"],
                threads=config["threads"],
                extra_env={"CELERY_TASK_DEFAULT_QUEUE": queue},
            ) as api:
                for index in range(ROUNDS):
                    floors.append(_closed(api, _merchant_request(api, partner.key), config))
                    peaks.append(_closed(api, _redemptions(api, partner.key, shares[index]), config))
                    wholes.append(_whole(api, partner, shares[ROUNDS + index], config, database_url, queue))
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
                    for share in shares[2 * ROUNDS :]
                ]
        finally:
            queue_drop(queue)
        for floor in floors:
            floor.require(200)
        for result in (*peaks, *(whole.load for whole in wholes), *steadies):
            result.require(201)
        redeemed = sum(result.completed for result in (*peaks, *(whole.load for whole in wholes), *steadies))
        check_redeemed(partner, redeemed=redeemed)
        _check_side_effects_once()
    floor_rps = statistics.median(floor.rps for floor in floors)
    whole_rps = statistics.median(whole.rps for whole in wholes)
    return BenchResult(
        name="redeem_api",
        metric="POST /api/v1/redemptions per second (closed loop, keep-alive, fresh voucher each)",
        value=peak_rps,
        unit="req/s",
        floor=floor_rps,
        slowdown=floor_rps / peak_rps,
        scale={
            **config,
            "steady_share": STEADY_SHARE,
            "rounds": ROUNDS,
            "worker_concurrency": WORKER_CONCURRENCY,
        },
        notes=(
            f"Medians of {ROUNDS} alternating rounds. Redemptions at peak, request path (drains parked): "
            f"{'; '.join(peak.summary() for peak in peaks)}. The whole, a worker draining as in production: "
            f"median {whole_rps:,.0f} redemptions/s, {whole_rps / peak_rps:.0%} of the request path's: "
            f"{'; '.join(whole.summary() for whole in wholes)}. Redemptions at {STEADY_SHARE:.0%} of the "
            f"median peak, p99 median {statistics.median(steady.p99_ms for steady in steadies):.1f} ms: "
            f"{'; '.join(steady.summary() for steady in steadies)}. Floor GET /api/v1/merchant: "
            f"{'; '.join(floor.summary() for floor in floors)}."
        ),
        figures={
            "whole_rps": round(whole_rps, 1),
            "whole_share_of_request_path": round(whole_rps / peak_rps, 3),
            "whole_served_rps": round(statistics.median(whole.load.rps for whole in wholes), 1),
            "whole_catch_up_seconds": [round(whole.catch_up, 2) for whole in wholes],
        },
    )


def _whole(
    server: Server,
    partner: BenchPartner,
    codes: list[str],
    config: dict[str, Any],
    database_url: str,
    queue: str,
) -> Whole:
    """Redemptions at their maximum rate while a worker drains their side effects, and the
    time after the load until none is left due."""
    _side_effects_settled(queue)
    production = served_environment(database_url)  # as the server runs: DEBUG off
    with worker_process(database_url, queue=queue, concurrency=WORKER_CONCURRENCY, extra_env=production):
        load = _closed(server, _redemptions(server, partner.key, codes), config)
        ended = time.monotonic()
        _wait_until_drained()
        catch_up = time.monotonic() - ended
    return Whole(load, catch_up)


def _side_effects_settled(queue: str) -> None:
    """What the request-path phases left due applied here (untimed), their wake-ups
    dropped, so that a whole phase drains its own redemptions only."""
    queue_purge(queue)
    with tasks_parked():
        redemption_side_effects_due()


def _wait_until_drained() -> None:
    deadline = time.monotonic() + DRAINED_TIMEOUT_SECONDS
    while Redemption.objects.filter(side_effects_at=None).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not drain the side effects")
        time.sleep(POLL_SECONDS)


def _check_side_effects_once() -> None:
    """Every redemption's side effects applied, once: a usage row and a webhook event each."""
    with tasks_parked():
        redemption_side_effects_due()
    redemptions = Redemption.objects.count()
    usage = UsageRecord.objects.count()
    events = WebhookEvent.objects.filter(type="voucher.redeemed").count()
    if not redemptions == usage == events:
        raise RuntimeError(f"{redemptions} redemptions, {usage} usage rows, {events} voucher.redeemed events")


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
