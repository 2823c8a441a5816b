"""Reads that tolerate a read replica's lag, and the rule that keeps a person on the primary
right after they wrote (config/dbrouter.py routes by both; docs/operations.md, "Read replica").

Nothing reads the replica unless it is marked: `lag_tolerant` on a view (a history page, a
list, an export) or `with lag_tolerant_reads():` around a block. Within a mark, the first
write, and any `transaction.atomic()` open on the primary, send the block's further reads to
the primary, so a block never reads around its own write. A browser whose signed-in person
wrote (any POST, PUT, PATCH or DELETE) within `DATABASE_REPLICA_STICKY_SECONDS` carries a
short-lived cookie, and its marked pages read the primary: the page a form redirects to shows
what the form just did, however far the replica is behind.
"""

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponseBase

REPLICA = "replica"
WROTE_COOKIE = "perkline_wrote"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


@dataclass
class _Mark:
    wrote: bool = False


_mark: ContextVar[_Mark | None] = ContextVar("lag_tolerant_reads", default=None)


@contextmanager
def lag_tolerant_reads() -> Iterator[None]:
    """The block's reads may come from the replica, until the block writes."""
    token = _mark.set(_Mark())
    try:
        yield
    finally:
        _mark.reset(token)


def replica_readable() -> bool:
    """Whether a read here may go to the replica: marked, nothing written under the mark yet,
    and no transaction open on the primary (whose own rows the replica has not got)."""
    mark = _mark.get()
    return mark is not None and not mark.wrote and not connections[DEFAULT_DB_ALIAS].in_atomic_block


def write_noted() -> None:
    """A write under the mark: the rest of the block reads the primary."""
    if (mark := _mark.get()) is not None:
        mark.wrote = True


def wrote_recently(request: HttpRequest) -> bool:
    """Whether this browser's person wrote within the sticky window (a cookie whose value
    is not a time counts as recent: the primary is never the wrong answer)."""
    value = request.COOKIES.get(WROTE_COOKIE)
    if value is None:
        return False
    try:
        return time.time() - float(value) < settings.DATABASE_REPLICA_STICKY_SECONDS
    except ValueError:
        return True


def lag_tolerant(view: View) -> View:
    """Marks a GET (or HEAD) of the view lag-tolerant, unless its person just wrote. Put it
    below the access decorator, so who may see the page is always decided on the primary.
    A streamed answer (a CSV export) is read under the mark as it streams."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method not in ("GET", "HEAD") or wrote_recently(request):
            return view(request, *args, **kwargs)
        with lag_tolerant_reads():
            response = view(request, *args, **kwargs)
        if response.streaming:
            response.streaming_content = _marked(response.streaming_content)  # type: ignore[attr-defined]
        return response

    return cast(View, wrapper)


def _marked(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Each chunk made under a mark of its own: the server iterates the answer after the
    view returned, and perhaps in another context than the view's."""
    iterator = iter(chunks)
    while True:
        with lag_tolerant_reads():
            chunk = next(iterator, None)
        if chunk is None:
            return
        yield chunk


class ReadYourWritesMiddleware:
    """After a signed-in person's POST, PUT, PATCH or DELETE, the cookie that keeps their
    marked pages on the primary for the sticky window (the browser drops it after that).
    The partner API signs in by key, never by session: its answers never carry it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if request.method not in SAFE_METHODS and user is not None and user.is_authenticated:
            response.set_cookie(
                WROTE_COOKIE,
                str(time.time()),
                max_age=settings.DATABASE_REPLICA_STICKY_SECONDS,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
