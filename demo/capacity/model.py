"""The capacity model (docs/scaling.md): what 500 million members need, from measured figures.

Every rate comes from a benchmark's `var/bench/<name>.json` and every row size from
`var/bench/row_sizes.json` (`manage.py capacity_row_sizes`); everything else is an
`Assumption`, printed beside the figures with what it stands for. The arithmetic is a few
pure functions; `capacity_model` puts them together and `capacity_markdown` prints it.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCHMARKS = (
    "redeem_api",
    "api_merchant",
    "campaign_issue",
    "score_recompute",
    "points_earn",
    "redemption_side_effects",
    "row_sizes",
)
SECONDS_A_DAY = 86_400
# Written by the drain but one a member and merchant, not one a redemption: bounded by the
# merchants each member visits, so not monthly growth.
NOT_GROWTH = {"members_merchantlink": "member links, one a member and merchant"}
TB = 10**12
GB = 10**9


class MissingFigure(Exception):
    """A benchmark file, or a figure in it, that the model needs and the inputs lack."""


# The arithmetic.


def per_core(rate: float, cores: float) -> float:
    """A rate measured on `cores` cores, for one of them."""
    return rate / cores


def cores_for(demand: float, rate_per_core: float, *, share: float, utilisation: float) -> int:
    """Cores to serve `demand` a second when one core, doing the whole of the work, serves
    `rate_per_core`, of which this tier does `share`, each core kept at `utilisation`."""
    return math.ceil(demand * share / (rate_per_core * utilisation))


def rate_over(total: float, seconds: float) -> float:
    """The rate that gets `total` done in `seconds`."""
    return total / seconds


def worker_nodes(
    *, cores: int, stored_bytes: float, cores_per_node: int, bytes_per_node: float, replication: int
) -> tuple[int, int]:
    """Citus worker nodes: (primaries, all with their replicas). Primaries carry the cores
    and hold the data; each has `replication - 1` standbys of the same size."""
    primaries = max(math.ceil(cores / cores_per_node), math.ceil(stored_bytes / bytes_per_node), 1)
    return primaries, primaries * replication


def instances_for(load: float, per_instance: float, *, utilisation: float, minimum: int = 1) -> int:
    """Instances of a service that each carry `per_instance` a second at full use."""
    return max(minimum, math.ceil(load / (per_instance * utilisation)))


# The inputs.


@dataclass(frozen=True)
class Figure:
    value: float
    source: str


def inputs_load(path: Path) -> dict[str, Any]:
    """The benchmark files the model reads: a folder of `<name>.json` (var/bench) or one
    JSON file holding them by name (docs/scaling-inputs.json)."""
    if path.is_dir():
        return {
            name: json.loads((path / f"{name}.json").read_text())
            for name in BENCHMARKS
            if (path / f"{name}.json").is_file()
        }
    loaded = json.loads(path.read_text())
    return {name: loaded[name] for name in BENCHMARKS if name in loaded}


def inputs_missing(inputs: dict[str, Any]) -> list[str]:
    return [name for name in BENCHMARKS if name not in inputs]


def figure(inputs: dict[str, Any], name: str, *keys: str) -> Figure:
    if name not in inputs:
        raise MissingFigure(f"{name}.json is missing")
    node = inputs[name]
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise MissingFigure(f"{name}.json has no {'.'.join(keys)}")
        node = node[key]
    if not isinstance(node, int | float) or isinstance(node, bool):
        raise MissingFigure(f"{name}.json {'.'.join(keys)} is not a number")
    return Figure(float(node), f"{name}.json `{'.'.join(keys)}`")


def quotient(numerator: Figure, denominator: Figure) -> Figure:
    return Figure(numerator.value / denominator.value, f"{numerator.source} / {denominator.source}")


@dataclass(frozen=True)
class Assumption:
    value: float
    meaning: str


def assumptions_default() -> dict[str, Assumption]:
    return {
        "members": Assumption(500_000_000, "members"),
        "peak_redemptions": Assumption(50_000, "redemptions a second at peak"),
        "score_events_month": Assumption(2_000_000_000, "score events a month"),
        "redemptions_member_month": Assumption(4, "redemptions a member a month (sets the monthly volume)"),
        "gets_per_redemption": Assumption(1, "partner API reads (GETs) a redemption at peak"),
        "purchases_per_score_event": Assumption(1, "purchases earning points a score event"),
        "campaigns_month": Assumption(1, "campaigns a month with a voucher to every member"),
        "days_month": Assumption(30, "days a month"),
        "nightly_window_hours": Assumption(
            4, "hours of the nightly window: full recompute, points import and a campaign, off peak"
        ),
        "utilisation": Assumption(0.6, "target utilisation of every core and service"),
        "database_share": Assumption(
            0.5,
            "share of each benchmark's cores that PostgreSQL used (it shared the machine with the app; "
            "the benchmarks do not split it); the app's share is the rest",
        ),
        "cores_per_node": Assumption(16, "cores a Citus worker node"),
        "storage_per_node_tb": Assumption(4, "usable disk a Citus worker node, TB"),
        "replication": Assumption(2, "copies of each Citus worker node (a primary and a streaming standby)"),
        "retention_months": Assumption(24, "months of history kept on line"),
        "threads_per_web_core": Assumption(
            4, "gunicorn threads a web process (gunicorn.conf.py), a process a core"
        ),
        "server_connections_per_db_core": Assumption(2, "PgBouncer server connections a database core"),
        "clients_per_pgbouncer": Assumption(
            10_000, "client connections a PgBouncer process (not measured here)"
        ),
        "transactions_per_pgbouncer": Assumption(
            20_000, "transactions a second a PgBouncer process, one core (not measured here)"
        ),
        "redis_trips_per_request": Assumption(
            1, "Redis round trips a partner API request (the rate limit's one pipelined trip)"
        ),
        "ops_per_redis": Assumption(
            100_000, "operations a second a Redis instance, one core (not measured here)"
        ),
        "messages_per_rabbitmq_node": Assumption(
            10_000, "messages a second a RabbitMQ node, quorum queues, publisher confirms (not measured here)"
        ),
        "rabbitmq_minimum_nodes": Assumption(3, "RabbitMQ nodes a quorum queue needs to survive one loss"),
    }


@dataclass
class Line:
    what: str
    value: float
    how: str
    unit: str = ""


@dataclass
class StorageLine:
    table: str
    rows_month: float
    bytes_per_row: float
    rows_from: str

    @property
    def bytes_month(self) -> float:
        return self.rows_month * self.bytes_per_row


@dataclass
class Model:
    rates: list[Line] = field(default_factory=list)
    results: list[Line] = field(default_factory=list)
    storage: list[StorageLine] = field(default_factory=list)
    bench_cores: int = 0
    scales: dict[str, str] = field(default_factory=dict)


def capacity_model(inputs: dict[str, Any], assumed: dict[str, Assumption] | None = None) -> Model:
    a = {key: item.value for key, item in (assumed or assumptions_default()).items()}
    missing = inputs_missing(inputs)
    if missing:
        raise MissingFigure(f"missing benchmark figures: {', '.join(f'{name}.json' for name in missing)}")
    model = Model(scales={name: _scale(inputs[name]) for name in BENCHMARKS})
    cores = figure(inputs, "row_sizes", "machine", "cores")
    model.bench_cores = int(cores.value)
    app_share, db_share, u = 1 - a["database_share"], a["database_share"], a["utilisation"]
    window = a["nightly_window_hours"] * 3600

    def rate(what: str, measured: Figure, unit: str) -> float:
        value = per_core(measured.value, cores.value)
        model.rates.append(Line(what, value, f"{measured.source} / {cores.source}", unit))
        return value

    path = rate("redemptions, request path", figure(inputs, "redeem_api", "value"), "redemptions/s")
    whole = rate(
        "redemptions, the whole", figure(inputs, "redeem_api", "figures", "whole_rps"), "redemptions/s"
    )
    gets = rate("GET /api/v1/merchant", figure(inputs, "api_merchant", "value"), "requests/s")
    sfx_redemptions = figure(inputs, "redemption_side_effects", "scale", "redemptions")
    drain = rate(
        "side effects drained",
        quotient(sfx_redemptions, figure(inputs, "redemption_side_effects", "value")),
        "redemptions/s",
    )
    vouchers = rate(
        "campaign vouchers",
        quotient(
            figure(inputs, "campaign_issue", "scale", "vouchers"), figure(inputs, "campaign_issue", "value")
        ),
        "vouchers/s",
    )
    recomputes = rate(
        "score recompute",
        quotient(
            figure(inputs, "score_recompute", "scale", "members"), figure(inputs, "score_recompute", "value")
        ),
        "members/s",
    )
    purchases = rate(
        "points earned",
        quotient(figure(inputs, "points_earn", "scale", "purchases"), figure(inputs, "points_earn", "value")),
        "purchases/s",
    )

    peak, members = a["peak_redemptions"], a["members"]
    reads = peak * a["gets_per_redemption"]
    purchases_night = a["score_events_month"] * a["purchases_per_score_event"] / a["days_month"]
    nightly = {
        "recompute": (rate_over(members, window), recomputes),
        "points": (rate_over(purchases_night, window), purchases),
        "campaign": (rate_over(members * a["campaigns_month"], window), vouchers),
    }

    def add(what: str, value: float, how: str, unit: str = "") -> float:
        model.results.append(Line(what, value, how, unit))
        return value

    web_redeem = cores_for(peak, path, share=app_share, utilisation=u)
    web_get = cores_for(reads, gets, share=app_share, utilisation=u)
    web = add(
        "web cores",
        web_redeem + web_get,
        f"{_n(peak)} redemptions/s on the request path ({web_redeem}) + {_n(reads)} GETs/s ({web_get}), "
        "app share, at target utilisation",
    )
    workers_peak = cores_for(peak, drain, share=app_share, utilisation=u)
    workers_night = {
        job: cores_for(need, per, share=app_share, utilisation=u) for job, (need, per) in nightly.items()
    }
    workers = add(
        "worker cores",
        max(workers_peak, sum(workers_night.values())),
        f"the larger of side effects at peak ({workers_peak}) and the nightly window "
        f"({' + '.join(f'{job} {count}' for job, count in workers_night.items())})",
    )
    add(
        "check: web and worker cores for redemptions from the whole",
        cores_for(peak, whole, share=app_share, utilisation=u),
        f"{_n(peak)} redemptions/s at the whole's rate, app share; against {web_redeem} + {workers_peak}",
    )

    db_peak = cores_for(peak, whole, share=db_share, utilisation=u) + cores_for(
        reads, gets, share=db_share, utilisation=u
    )
    db_night = sum(cores_for(need, per, share=db_share, utilisation=u) for need, per in nightly.values())
    db_cores = add(
        "database cores",
        max(db_peak, db_night),
        f"the larger of peak (redemptions whole + GETs, database share: {db_peak}) "
        f"and the nightly window ({db_night})",
    )

    model.storage = _storage(inputs, a)
    monthly = sum(line.bytes_month for line in model.storage)
    retained = monthly * a["retention_months"]
    add("storage a month", monthly / TB, "the tables below", "TB")
    add("storage retained", retained / TB, f"{_n(a['retention_months'])} months, one copy", "TB")
    primaries, nodes = worker_nodes(
        cores=int(db_cores),
        stored_bytes=retained,
        cores_per_node=int(a["cores_per_node"]),
        bytes_per_node=a["storage_per_node_tb"] * TB,
        replication=int(a["replication"]),
    )
    add(
        "Citus worker nodes",
        nodes,
        f"{primaries} primaries (the larger of {db_cores} database cores / {_n(a['cores_per_node'])} "
        f"a node and {retained / TB:,.1f} TB / {_n(a['storage_per_node_tb'])} TB a node) "
        f"x {_n(a['replication'])} copies; plus a coordinator and its standby",
    )

    clients = web * a["threads_per_web_core"] + workers
    transactions = peak + reads + peak
    pgbouncers = max(
        instances_for(clients, a["clients_per_pgbouncer"], utilisation=1),
        instances_for(transactions, a["transactions_per_pgbouncer"], utilisation=u),
    )
    add(
        "PgBouncer processes",
        pgbouncers,
        f"{_n(clients)} client connections (web cores x threads + worker processes), {_n(transactions)} "
        f"transactions/s at peak (a redemption, its drain, a GET); "
        f"{_n(db_cores * a['server_connections_per_db_core'])} server connections in all",
    )
    redis_ops = (peak + reads) * a["redis_trips_per_request"]
    add(
        "Redis instances",
        instances_for(redis_ops, a["ops_per_redis"], utilisation=u),
        f"{_n(redis_ops)} operations/s at peak (partner API requests x round trips)",
    )
    tasks = quotient(
        figure(inputs, "redemption_side_effects", "scale", "webhook_tasks_queued"), sfx_redemptions
    )
    chunk = figure(inputs, "campaign_issue", "scale", "chunk_size")
    messages = max(peak * tasks.value, rate_over(members * a["campaigns_month"], window) / chunk.value)
    add(
        "RabbitMQ nodes",
        instances_for(
            messages, a["messages_per_rabbitmq_node"], utilisation=u, minimum=int(a["rabbitmq_minimum_nodes"])
        ),
        f"{_n(messages)} messages/s (webhook tasks a redemption, {tasks.source}, at peak; "
        f"campaign chunks of {chunk.source} at night)",
    )
    return model


def _storage(inputs: dict[str, Any], a: dict[str, float]) -> list[StorageLine]:
    redemptions = a["members"] * a["redemptions_member_month"]
    score_events = a["score_events_month"]
    changed = quotient(
        figure(inputs, "score_recompute", "scale", "standings_changed"),
        figure(inputs, "score_recompute", "scale", "members"),
    )
    postings = quotient(
        figure(inputs, "points_earn", "scale", "postings"),
        figure(inputs, "points_earn", "scale", "purchases"),
    )
    monthly: list[tuple[str, float, str]] = [
        ("scoring_scoreevent", score_events, "score events a month"),
        ("scoring_eventkey", score_events, "a key a score event, kept when its month is dropped"),
        (
            "scoring_scoresnapshot",
            a["members"] * a["days_month"] * changed.value,
            f"members x days x standings changed a night ({changed.source}; a cold start, so an upper bound)",
        ),
        (
            "points_posting",
            score_events * a["purchases_per_score_event"] * postings.value,
            f"purchases x postings a purchase ({postings.source})",
        ),
        ("vouchers_voucher", a["members"] * a["campaigns_month"], "campaign vouchers (members x campaigns)"),
        ("vouchers_redemption", redemptions, "members x redemptions a member"),
    ]
    sfx_rows = inputs["redemption_side_effects"].get("scale", {}).get("rows")
    if not isinstance(sfx_rows, dict):
        raise MissingFigure("redemption_side_effects.json has no scale.rows")
    for table in sorted(set(sfx_rows) - set(NOT_GROWTH)):
        per = quotient(
            figure(inputs, "redemption_side_effects", "scale", "rows", table),
            figure(inputs, "redemption_side_effects", "scale", "redemptions"),
        )
        monthly.append(
            (table, redemptions * per.value, f"redemptions x {per.value:.2f} a redemption ({per.source})")
        )
    return [
        StorageLine(table, rows, figure(inputs, "row_sizes", "tables", table, "bytes_per_row").value, source)
        for table, rows, source in monthly
    ]


def _scale(result: dict[str, Any]) -> str:
    scale = result.get("scale")
    if isinstance(scale, dict):
        named = scale.get("scale")
        return (
            str(named)
            if named
            else ", ".join(f"{key} {value}" for key, value in scale.items() if _small(value))
        )
    database = result.get("database", {})
    return f"{database.get('name', '?')}, {sum(t['rows'] for t in result.get('tables', {}).values()):,} rows"


def _small(value: Any) -> bool:
    return isinstance(value, int | float | str) and not isinstance(value, bool)


def _n(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.2f}"


def capacity_markdown(model: Model, assumed: dict[str, Assumption] | None = None) -> str:
    assumptions = assumed or assumptions_default()
    out = [
        f"Per-core rates: each benchmark's rate over the {model.bench_cores} cores of the machine it ran on "
        "(`row_sizes.json` `machine.cores`), which carried the app, PostgreSQL, Redis and the load "
        "generator together.",
        "",
        "| input | scale |",
        "|---|---|",
        *(f"| `{name}.json` | {scale} |" for name, scale in model.scales.items()),
        "",
        "| per core | rate | from |",
        "|---|---|---|",
        *(f"| {line.what} | {_n(line.value)} {line.unit} | {line.how} |" for line in model.rates),
        "",
        "| assumption | value |",
        "|---|---|",
        *(f"| {item.meaning} | {_n(item.value)} |" for item in assumptions.values()),
        "",
        "| needed | number | how |",
        "|---|---|---|",
        *(f"| {line.what} | {_fmt(line)} | {line.how} |" for line in model.results),
        "",
        "| table | rows a month | bytes a row | GB a month | rows from |",
        "|---|---|---|---|---|",
        *(
            f"| `{line.table}` | {_n(line.rows_month)} | {line.bytes_per_row:,.1f} | "
            f"{line.bytes_month / GB:,.1f} | {line.rows_from}; bytes from row_sizes.json "
            f"`tables.{line.table}.bytes_per_row` |"
            for line in model.storage
        ),
        "",
        *(f"Not counted as growth: `{table}`, {why}." for table, why in NOT_GROWTH.items()),
    ]
    return "\n".join(out) + "\n"


def _fmt(line: Line) -> str:
    return f"{line.value:,.1f} {line.unit}" if line.unit else _n(line.value)
