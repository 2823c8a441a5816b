"""Idempotency-Key on every POST (docs/integration.md), so a partner can retry without fear.

In ONE transaction: take a lock on (merchant, key), look the key up (a replay, or 422 if
the request differs), else run the view and store its response beside what it changed,
so both commit together or neither does. Errors are stored too, as Stripe does, except
5xx (a retry after our failure must be able to succeed): a view that raises has its
transaction rolled back whole, and its error is stored in a second one, unless another
request answered the key in between, whose answer is then the one given.

A view's `secret_fields` (a webhook endpoint's `secret`) are shown in the first answer
only: the record keeps them as null, so a secret meant to be shown once is not kept in
clear for the replay window, nor shown again by a replay.

Concurrent duplicates: on PostgreSQL the lock is `pg_try_advisory_xact_lock`, so a second
request while the first runs answers 409 `idempotency_request_in_progress` at once. On
SQLite every writing transaction begins IMMEDIATE, which serialises them: the duplicate
waits for the first to commit and then replays its response. Either way the work runs
once.
"""

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, Protocol

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty.core.errors import Invalid
from loyalty.core.sql import database, row_insert, row_read
from perks.merchants.models import Merchant
from surfaces.api.exception_handler import IdempotencyKeyReused, IdempotencyRequestInProgress
from surfaces.api.models import IdempotencyRecord
from surfaces.api.sql import LOCK_AND_RECORD, LOCK_NAMESPACE, RECORD

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
RETENTION = timedelta(hours=24)
PURGE_BATCH = 5000
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")


class IdempotentView(Protocol):
    @property
    def merchant(self) -> Merchant: ...

    @property
    def secret_fields(self) -> tuple[str, ...]: ...

    def handle_exception(self, exc: Exception) -> Response: ...


Handler = Callable[..., HttpResponseBase]


def idempotent(handler: Handler) -> Handler:
    """Wrap a view's `post`: the base view does it to every subclass, so none can forget."""

    @wraps(handler)
    def post(view: IdempotentView, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        return _once(view, request, key, lambda: handler(view, request, *args, **kwargs))

    post.idempotent = True  # type: ignore[attr-defined]
    return post


def request_hash(request: Request) -> str:
    """SHA-256 of the method, the path and the body, JSON canonicalised (key order and
    spacing do not make two bodies differ); a body that is not JSON counts byte for byte."""
    raw = request._request.body
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        body = raw
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def idempotency_records_purge(*, now: datetime | None = None) -> int:
    """Delete records past the replay window, in batches so no long lock is held (beat)."""
    cutoff = (now or timezone.now()) - RETENTION
    purged = 0
    while True:
        batch = list(
            IdempotencyRecord.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:PURGE_BATCH]
        )
        if not batch:
            return purged
        purged += IdempotencyRecord.objects.filter(pk__in=batch).delete()[0]


def _once(
    view: IdempotentView, request: Request, key: str, run: Callable[[], HttpResponseBase]
) -> HttpResponseBase:
    if not _VALID_KEY.fullmatch(key):
        raise Invalid("An Idempotency-Key is 1–255 printable ASCII characters, such as a UUID.", param=HEADER)
    answer = _Answer(view.merchant, key, request, secret_fields=view.secret_fields)
    try:
        with transaction.atomic():
            replay = answer.claim(wait_refused=IdempotencyRequestInProgress)
            if replay is not None:
                return replay
            try:
                response = run()
            except Exception as exc:
                raise _Failed(exc) from exc  # out of the block: everything the view wrote is undone
            return answer.keep(response)
    except _Failed as failed:
        response = view.handle_exception(failed.error)
    except _AnsweredMeanwhile:
        response = None
    # The view raised, and its error is stored in a transaction of its own (the success path
    # needs no savepoint for it); or another request stored its answer between our look-up
    # and our insert. Either way the first answer stored is the answer: if one is stored in
    # that moment again, while the error is being kept, it is visible to the next look-up.
    try:
        return _settle(answer, response)
    except _AnsweredMeanwhile:
        return _settle(answer, None)


def _settle(answer: "_Answer", response: HttpResponseBase | None) -> HttpResponse:
    """In a transaction: the stored answer, else `response` kept; with no `response`, the
    stored answer or 409 while the request that will store it still runs."""
    with transaction.atomic():
        replay = answer.claim(wait_refused=IdempotencyRequestInProgress if response is None else None)
        if replay is not None:
            return replay
        if response is None:
            raise IdempotencyRequestInProgress()
        return answer.keep(response)


class _AnsweredMeanwhile(Exception):
    """Another request stored its answer to the key after we looked (PostgreSQL only)."""


class _Failed(Exception):
    """The view raised `error`."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class _Answer:
    """The answer to one merchant's Idempotency-Key: claimed under the key's lock, kept
    beside what the request changed."""

    def __init__(
        self, merchant: Merchant, key: str, request: Request, *, secret_fields: tuple[str, ...]
    ) -> None:
        self.merchant, self.key, self.request = merchant, key, request
        self.secret_fields = secret_fields
        self.fingerprint = request_hash(request)
        self.locked = False

    def claim(self, *, wait_refused: type[Exception] | None) -> HttpResponse | None:
        """Take the key's lock and replay its stored answer, if there is one. When another
        request holds the lock, raise `wait_refused`, or with None give up the claim."""
        self.locked, record = _lock_and_record(self.merchant.pk, self.key)
        if not self.locked:
            if wait_refused is not None:
                raise wait_refused()
            return None
        if record is not None and record.created_at > timezone.now() - RETENTION:
            if record.request_hash != self.fingerprint:
                raise IdempotencyKeyReused(param=HEADER)
            return _response(record.response_status, record.response_body, replayed=True)
        if record is not None:  # past the window, not purged yet: the key is free again
            record.delete()
        return None

    def keep(self, response: HttpResponseBase) -> HttpResponse:
        """`response` as sent, stored for replays (without its secrets) unless it is a 5xx
        (a retry after our failure must be able to succeed) or the key's lock was not ours."""
        status, body = _rendered(response)
        if status < 500 and self.locked:
            record = IdempotencyRecord(
                merchant=self.merchant,
                key=self.key,
                request_method=self.request.method or "",
                request_path=self.request.path,
                request_hash=self.fingerprint,
                response_status=status,
                response_body=_without_secrets(body, self.secret_fields),
            )
            try:
                row_insert(record)
            except IntegrityError:
                raise _AnsweredMeanwhile() from None  # out of the block: this request is undone
        kept = _response(status, body, replayed=False)
        if retry_after := response.get("Retry-After"):  # a 503's: when to send the request again
            kept["Retry-After"] = retry_after
        return kept


def _lock_and_record(merchant_id: int, key: str) -> tuple[bool, IdempotencyRecord | None]:
    """Whether the key's lock is ours now, and its record, in one round trip. Written out
    (surfaces.api.sql), as the record is inserted with `row_insert`: both run on every POST.
    A record committed after the read's snapshot is missed; its unique constraint then
    refuses ours (`_AnsweredMeanwhile`)."""
    vendor = database().vendor
    lock_params = [LOCK_NAMESPACE, f"{merchant_id}:{key}"] if vendor == "postgresql" else []
    row = row_read(LOCK_AND_RECORD[vendor], [*lock_params, merchant_id, key])
    assert row is not None, "the statement selects from one row whatever the join finds"
    return bool(row[0]), RECORD.instance(row, 1)


def _rendered(response: HttpResponseBase) -> tuple[int, str]:
    if isinstance(response, Response):
        body = JSONRenderer().render(response.data).decode() if response.data is not None else ""
    else:
        body = response.content.decode() if isinstance(response, HttpResponse) else ""
    return response.status_code, body


def _without_secrets(body: str, fields: tuple[str, ...]) -> str:
    """`body` with each of `fields` of its top-level object made null, as a replay shows it."""
    if not fields or not body:
        return body
    data = json.loads(body)
    hidden = [name for name in fields if isinstance(data, dict) and name in data]
    if not hidden:
        return body
    return JSONRenderer().render({**data, **dict.fromkeys(hidden)}).decode()


def _response(status: int, body: str, *, replayed: bool) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="application/json" if body else None)
    if replayed:
        response[REPLAYED_HEADER] = "true"
    return response
