"""`GET /api/v1/merchant` done by the plainest means: a bare WSGI callable, the driver's
own connection, one SQL query, one Redis round trip, `json.dumps`. It is the floor the
API's own answer is measured against: the same work without Django or DRF.

Served by gunicorn like the real app (`bench.support.plain_merchant:application`), with
the same DATABASE_URL and REDIS_URL.
"""

import hashlib
import hmac
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import psycopg
import redis

_KEY = re.compile(r"Bearer (pk_live_([0-9a-z]{12})_[0-9a-z]{32})")
_QUERY = (
    "SELECT k.secret_hash, k.revoked_at, m.status, m.ref, m.name, m.slug, m.category "
    "FROM merchants_apikey k JOIN merchants_merchant m ON m.id = k.merchant_id WHERE k.prefix = %s"
)
_local = threading.local()


def _database() -> Any:
    if not hasattr(_local, "database"):
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith("sqlite"):
            _local.database = sqlite3.connect(urlsplit(url).path, check_same_thread=False)
            _local.placeholder = "?"
        else:
            _local.database = psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True)
            _local.placeholder = "%s"
    return _local.database


def _redis() -> redis.Redis | None:
    if not hasattr(_local, "redis"):
        url = os.environ.get("REDIS_URL", "")
        _local.redis = redis.Redis.from_url(url) if url else None
    client: redis.Redis | None = _local.redis
    return client


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    match = _KEY.fullmatch(environ.get("HTTP_AUTHORIZATION", ""))
    key, prefix = match.groups() if match else ("", "")
    row = (
        _database().execute(_QUERY.replace("%s", _local.placeholder), (prefix,)).fetchone() if match else None
    )
    presented = hashlib.sha256(key.encode()).hexdigest()
    if row is None or not hmac.compare_digest(row[0], presented) or row[1] is not None or row[2] != "active":
        return _respond(start_response, "401 Unauthorized", {"error": {"code": "authentication_failed"}})
    if (client := _redis()) is not None:
        counter = f"plain:throttle:{prefix}:{int(time.time() // 60)}"
        pipe = client.pipeline(transaction=False)
        pipe.incr(counter)
        pipe.expire(counter, 61)
        pipe.execute()
    return _respond(
        start_response, "200 OK", dict(zip(("id", "name", "slug", "category"), row[3:], strict=True))
    )


def _respond(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> Iterable[bytes]:
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]
