"""A multi-process, keep-alive HTTP load generator for benchmarks against a local server.

Each worker process runs an asyncio loop over raw keep-alive connections (HTTP/1.1,
Content-Length bodies): cheap enough per request that the generator, which shares the
machine's cores with the server, takes as little of them as it can.

- `max_rate`: closed loop. Every connection sends its next request as soon as the last
  answer arrives; the rate it reaches is the server's maximum for that concurrency.
- `at_rate`: open loop. Requests are scheduled at a fixed total rate whatever the server
  does, and each latency counts from its scheduled time, so a server that falls behind
  shows it in the tail (no coordinated omission).

Both run a warm-up first (connections opened, caches and the database's plans warm) whose
requests are not counted, and stop by themselves after `seconds`.
"""

import asyncio
import multiprocessing
import statistics
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

CONNECT_TIMEOUT_SECONDS = 5
START_DELAY_SECONDS = 1.0  # lets every process start before the clock begins


def http_request(
    method: str, path: str, *, host: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    """One raw HTTP/1.1 request, kept alive."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True)
class Workload:
    """What to send: `requests` in turn, cycled, or each at most once when `unique` (a
    redemption can only happen once: the run stops when they are used up)."""

    requests: Sequence[bytes]
    unique: bool = False

    def share(self, index: int, processes: int) -> "Workload":
        return Workload(list(self.requests[index::processes]) if self.unique else self.requests, self.unique)


@dataclass
class LoadResult:
    mode: str
    seconds: float
    completed: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    def require(self, status: int) -> None:
        """Raise unless every request answered `status`: a figure from failures means nothing."""
        if set(self.statuses) != {status} or self.errors:
            raise RuntimeError(f"not every request succeeded: {self.summary()}")

    def summary(self) -> str:
        return (
            f"{self.mode}: {self.rps:,.0f} req/s over {self.seconds:.0f} s, p50 {self.p50_ms:.1f} ms, "
            f"p95 {self.p95_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
            f"statuses {self.statuses}, errors {self.errors}"
        )


def max_rate(
    host: str,
    port: int,
    workload: Workload,
    *,
    processes: int = 2,
    connections: int = 8,
    seconds: float = 10.0,
    warmup: float = 2.0,
) -> LoadResult:
    """Closed loop: `connections` per process, each back to back."""
    return _run("max_rate", host, port, workload, processes, connections, None, seconds, warmup)


def at_rate(
    host: str,
    port: int,
    workload: Workload,
    *,
    rate: float,
    processes: int = 2,
    connections: int = 32,
    seconds: float = 10.0,
    warmup: float = 2.0,
) -> LoadResult:
    """Open loop at `rate` requests per second in total, on up to `connections` per process."""
    return _run("at_rate", host, port, workload, processes, connections, rate, seconds, warmup)


@dataclass(frozen=True)
class _Job:
    host: str
    port: int
    workload: Workload
    connections: int
    rate: float | None
    start_at: float
    warmup: float
    seconds: float


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0


def _run(
    mode: str,
    host: str,
    port: int,
    workload: Workload,
    processes: int,
    connections: int,
    rate: float | None,
    seconds: float,
    warmup: float,
) -> LoadResult:
    start_at = time.time() + START_DELAY_SECONDS
    jobs = [
        _Job(
            host,
            port,
            workload.share(i, processes),
            connections,
            None if rate is None else rate / processes,
            start_at,
            warmup,
            seconds,
        )
        for i in range(processes)
    ]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        tallies = pool.map(_work, jobs)
    latencies = sorted(latency for tally in tallies for latency in tally.latencies)
    statuses: Counter[int] = sum((tally.statuses for tally in tallies), Counter())
    return LoadResult(
        mode=mode,
        seconds=seconds,
        completed=len(latencies),
        rps=len(latencies) / seconds,
        p50_ms=_percentile(latencies, 50),
        p95_ms=_percentile(latencies, 95),
        p99_ms=_percentile(latencies, 99),
        statuses=dict(sorted(statuses.items())),
        errors=sum(tally.errors for tally in tallies),
    )


def _percentile(sorted_seconds: list[float], percent: int) -> float:
    if len(sorted_seconds) < 2:
        return sorted_seconds[0] * 1000 if sorted_seconds else float("nan")
    return statistics.quantiles(sorted_seconds, n=100, method="inclusive")[percent - 1] * 1000


def _work(job: _Job) -> _Tally:
    return asyncio.run(_work_async(job))


_Send = Callable[[bytes, float], Coroutine[Any, Any, None]]


class _Requests:
    def __init__(self, workload: Workload) -> None:
        self.workload, self.next = workload, 0

    def take(self) -> bytes | None:
        requests = self.workload.requests
        if self.workload.unique and self.next >= len(requests):
            return None
        request = requests[self.next % len(requests)]
        self.next += 1
        return request


async def _work_async(job: _Job) -> _Tally:
    tally = _Tally()
    requests = _Requests(job.workload)
    measure_from = job.start_at + job.warmup
    stop_at = measure_from + job.seconds
    pool: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(job.connections):
        pool.put_nowait(await _Connection.open(job.host, job.port))
    await asyncio.sleep(max(0.0, job.start_at - time.time()))

    async def send(request: bytes, scheduled: float) -> None:
        connection = await pool.get()
        try:
            status: int | None = await connection.exchange(request)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status = None
        done = time.time()
        if connection.closed:
            connection.close()
            connection = await _Connection.open(job.host, job.port)
        pool.put_nowait(connection)
        if measure_from <= scheduled < stop_at:
            if status is None:
                tally.errors += 1
            else:
                tally.statuses[status] += 1
                tally.latencies.append(done - scheduled)

    if job.rate is None:
        await asyncio.gather(*(_closed_loop(send, requests, stop_at) for _ in range(job.connections)))
    else:
        await _open_loop(send, requests, job.rate, job.start_at, stop_at)
    while not pool.empty():
        pool.get_nowait().close()
    return tally


async def _closed_loop(send: _Send, requests: _Requests, stop_at: float) -> None:
    while time.time() < stop_at and (request := requests.take()) is not None:
        await send(request, time.time())


async def _open_loop(send: _Send, requests: _Requests, rate: float, start: float, stop_at: float) -> None:
    interval, sent, pending = 1.0 / rate, 0, set[asyncio.Task[None]]()
    while (scheduled := start + sent * interval) < stop_at and (request := requests.take()) is not None:
        await asyncio.sleep(max(0.0, scheduled - time.time()))
        task = asyncio.create_task(send(request, scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
        sent += 1
    await asyncio.gather(*pending)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.closed = False

    @classmethod
    async def open(cls, host: str, port: int) -> "_Connection":
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT_SECONDS)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> int:
        """Send one request and read its whole response; the status code."""
        self.closed = True  # until a whole response says otherwise
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
        lowered = {name.lower(): value for name, value in headers.items()}
        if "content-length" not in lowered:
            raise ValueError("the server sent a response without Content-Length")
        await self.reader.readexactly(int(lowered["content-length"]))
        self.closed = lowered.get("connection", "").lower() == "close"
        return int(status_line.split(" ", 2)[1])

    def close(self) -> None:
        self.writer.close()
