"""Requests per API key, and refused API keys per client address: fixed-window counters,
in Redis when there is one.

One round trip a request: INCR and EXPIRE go in one pipeline to a key named after the
window, so the counter is atomic, resets itself, and needs no read-modify-write. Without
REDIS_URL (the embedded demo) each process counts in its own memory. A fixed window lets
a key send up to twice its rate across a window boundary; that is the price of one
round trip, and the rate is a guard against runaway clients, not a quota.

It keeps its own Redis client rather than counting through Django's cache with DRF's
throttling or django-ratelimit: Django's Redis cache makes a new client for every call and
those libraries make two or three calls a request, which multiplied the throttle's cost on
every partner request (measured in docs/performance.md).

Refused keys are counted by client address (API_KEY_FAILURE_LIMIT), only when a key is
refused: a request with a good key never touches that counter, so it costs the partner
nothing, and a good key keeps working from an address that is over it (many partners
may share one address behind a NAT, and a key is too long to guess anyway). What it
stops is a client grinding through keys: past the limit it gets 429 `rate_limited`.
"""

import ipaddress
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from loyalty.core.clientip import client_ip
from perks.merchants.models import ApiKey

log = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$")


@dataclass(frozen=True)
class Rate:
    limit: int
    window_seconds: int


@cache
def rate_parse(text: str, setting: str = "API_RATE_LIMIT") -> Rate:
    match = _RATE.match(text)
    if match is None or int(match.group(1)) < 1:
        raise ImproperlyConfigured(f"{setting} {text!r} is not like '6000/min'.")
    return Rate(limit=int(match.group(1)), window_seconds=_PERIODS[match.group(2)[0]])


class Counter(Protocol):
    def hit(self, key: str, window_seconds: int) -> int:
        """Count one more request under `key` and return the count so far in this window."""


class RedisCounter:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def hit(self, key: str, window_seconds: int) -> int:
        pipe = self.client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, window_seconds + 1)
        count, _ = pipe.execute()
        return int(count)


class MemoryCounter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        # By window length (each rate may have its own): the current window and its counts.
        self.windows: dict[int, tuple[str, dict[str, int]]] = {}

    def hit(self, key: str, window_seconds: int) -> int:
        with self.lock:
            window = key.rsplit(":", 1)[-1]
            current, counts = self.windows.get(window_seconds, ("", {}))
            if window != current:  # a new window: earlier counts can never matter again
                counts = {}
                self.windows[window_seconds] = (window, counts)
            counts[key] = counts.get(key, 0) + 1
            return counts[key]


@cache
def _counter(redis_url: str) -> Counter:
    return RedisCounter(redis_url) if redis_url else MemoryCounter()


def _spent(bucket: str, rate: Rate) -> float | None:
    """Count one more request in `bucket`'s current window: None while `rate` allows it,
    else the seconds until the window ends.

    If Redis cannot be reached the request is let through (and logged): the API staying
    up matters more than the guard against a runaway client.
    """
    now = time.time()
    window = int(now // rate.window_seconds)
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    try:
        count = _counter(settings.REDIS_URL).hit(f"{prefix}:{bucket}:{window}", rate.window_seconds)
    except redis.RedisError as exc:
        log.warning("rate limit not applied, Redis failed: %s", exc)
        return None
    return None if count <= rate.limit else (window + 1) * rate.window_seconds - now


class KeyRateThrottle(BaseThrottle):
    """API_RATE_LIMIT per API key; 429 `rate_limited` with Retry-After when it is spent."""

    wait_seconds: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        self.wait_seconds = _spent(f"throttle:{key.prefix}", rate_parse(settings.API_RATE_LIMIT))
        return self.wait_seconds is None

    def wait(self) -> float | None:
        return math.ceil(self.wait_seconds) if self.wait_seconds is not None else None


def key_refusal_count(request: Request) -> None:
    """Count a request whose API key was refused against its client address; past
    API_KEY_FAILURE_LIMIT, raise Throttled (429 `rate_limited`, Retry-After) instead."""
    rate = rate_parse(settings.API_KEY_FAILURE_LIMIT, "API_KEY_FAILURE_LIMIT")
    wait = _spent(f"key-refused:{_address_block(client_ip(request))}", rate)
    if wait is not None:
        raise Throttled(
            wait=math.ceil(wait),
            detail=f"Too many requests with a wrong API key from your address (at most {rate.limit} "
            f"in {rate.window_seconds} seconds).",
        )


def _address_block(address: str) -> str:
    """An IPv4 address as it is; an IPv6 one as its /64, which a single client commonly
    holds whole, so it cannot take a fresh allowance from each of its addresses."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
