"""GET /api/v1/merchant through the whole served stack, against the same work done plainly.

The stack: gunicorn (gthread workers, keep-alive) on the bench database and Redis, a load
generator in separate processes. Measured: the maximum rate (closed loop), then the
latency at 70 % of it (open loop). The floor is the same answer (one key look-up, one
Redis round trip, the merchant as JSON) from a bare WSGI app on the same gunicorn:
slowdown is what Django, DRF and our machinery cost per request. It is also the floor of
the `redeem_api` benchmark (issue 6): the cheapest authenticated request there is.
"""

from typing import Any

from bench.result import BenchResult
from bench.support.load import LoadResult, Workload, at_rate, http_request, max_rate
from bench.support.partner import partner_key
from bench.support.server import Server, bench_database, gunicorn

SCALE: dict[str, dict[str, Any]] = {
    "quick": {"seconds": 3.0, "warmup": 1.0, "workers": 2, "threads": 4, "processes": 2, "connections": 8},
    "full": {"seconds": 15.0, "warmup": 3.0, "workers": 2, "threads": 4, "processes": 2, "connections": 8},
}
STEADY_SHARE = 0.7


def _merchant_request(server: Server, key: str) -> Workload:
    return Workload(
        [
            http_request(
                "GET", "/api/v1/merchant", host=server.authority, headers={"Authorization": f"Bearer {key}"}
            )
        ]
    )


def _peak(server: Server, key: str, config: dict[str, Any]) -> LoadResult:
    return max_rate(
        server.host,
        server.port,
        _merchant_request(server, key),
        processes=config["processes"],
        connections=config["connections"],
        seconds=config["seconds"],
        warmup=config["warmup"],
    )


def run(scale: str) -> BenchResult:
    config = SCALE[scale]
    served = {"workers": config["workers"], "threads": config["threads"]}
    with bench_database() as database_url:
        key = partner_key()
        with gunicorn(
            "bench.support.plain_merchant:application", database_url=database_url, **served
        ) as plain:
            floor = _peak(plain, key, config)
        with gunicorn("config.wsgi:application", database_url=database_url, **served) as api:
            peak = _peak(api, key, config)
            steady = at_rate(
                api.host,
                api.port,
                _merchant_request(api, key),
                rate=STEADY_SHARE * peak.rps,
                processes=config["processes"],
                seconds=config["seconds"],
                warmup=config["warmup"],
            )
    for result in (floor, peak, steady):
        result.require(200)
    return BenchResult(
        name="api_merchant",
        metric="GET /api/v1/merchant requests per second (closed loop, keep-alive)",
        value=peak.rps,
        unit="req/s",
        floor=floor.rps,
        slowdown=floor.rps / peak.rps,
        scale={**config, "steady_share": STEADY_SHARE},
        notes=(
            f"API peak: {peak.summary()}. API at {STEADY_SHARE:.0%} of peak: {steady.summary()}. "
            f"Plain floor: {floor.summary()}."
        ),
    )
