"""Requests per API key: a fixed-window counter, in Redis when there is one.

One round trip a request: INCR and EXPIRE go in one pipeline to a key named after the
window, so the counter is atomic, resets itself, and needs no read-modify-write. Without
REDIS_URL (the embedded demo) each process counts in its own memory. A fixed window lets
a key send up to twice its rate across a window boundary; that is the price of one
round trip, and the rate is a guard against runaway clients, not a quota.

It keeps its own Redis client rather than counting through Django's cache with DRF's
throttling or django-ratelimit: Django's Redis cache makes a new client for every call and
those libraries make two or three calls a request, which multiplied the throttle's cost on
every partner request (measured in docs/performance.md).
"""

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
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from perks.merchants.models import ApiKey

log = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$")


@dataclass(frozen=True)
class Rate:
    limit: int
    window_seconds: int


@cache
def rate_parse(text: str) -> Rate:
    match = _RATE.match(text)
    if match is None or int(match.group(1)) < 1:
        raise ImproperlyConfigured(f"API_RATE_LIMIT {text!r} is not like '6000/min'.")
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
        self.counts: dict[str, int] = {}
        self.window = ""

    def hit(self, key: str, window_seconds: int) -> int:
        with self.lock:
            window = key.rsplit(":", 1)[-1]
            if window != self.window:  # a new window: earlier counts can never matter again
                self.counts, self.window = {}, window
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]


@cache
def _counter(redis_url: str) -> Counter:
    return RedisCounter(redis_url) if redis_url else MemoryCounter()


class KeyRateThrottle(BaseThrottle):
    """API_RATE_LIMIT per API key; 429 `rate_limited` with Retry-After when it is spent.

    If Redis cannot be reached the request is let through (and logged): the API staying
    up matters more than the guard against a runaway client.
    """

    wait_seconds: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        rate = rate_parse(settings.API_RATE_LIMIT)
        now = time.time()
        window = int(now // rate.window_seconds)
        prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
        try:
            count = _counter(settings.REDIS_URL).hit(
                f"{prefix}:throttle:{key.prefix}:{window}", rate.window_seconds
            )
        except redis.RedisError as exc:
            log.warning("rate limit not applied, Redis failed: %s", exc)
            return True
        if count <= rate.limit:
            return True
        self.wait_seconds = (window + 1) * rate.window_seconds - now
        return False

    def wait(self) -> float | None:
        return math.ceil(self.wait_seconds) if self.wait_seconds is not None else None
