"""Lists: `?limit=` and `?starting_after=<id>`, newest first, by keyset (never OFFSET).

The cursor is looked up in the very queryset being listed, which the view got from a
selector that takes the merchant: an id from another list, or another merchant's, names
no object of this list and is a 400, like a malformed one.
"""

import re
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db.models import Model, Q, QuerySet
from django.http import QueryDict

from loyalty.core.errors import Invalid
from loyalty.core.refs import CROCKFORD, REF_LENGTH

PAGE_QUERY_PARAMS = ("limit", "starting_after")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_LIMIT = re.compile(r"[0-9]{1,4}")
REF_PATTERN = rf"[a-z]{{2,8}}_[{CROCKFORD}]{{{REF_LENGTH}}}"
_REF = re.compile(REF_PATTERN)

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
    has_more: bool


def page_of(
    queryset: QuerySet[M], params: QueryDict, *, ref_field: str = "ref", time_field: str = "created_at"
) -> Page[M]:
    """One page of `queryset`, newest first (`time_field`, then primary key, descending)."""
    limit = _limit(params.get("limit"))
    rows = queryset.order_by(f"-{time_field}", "-pk")
    after = params.get("starting_after")
    if after is not None:
        rows = rows.filter(_older_than(queryset, after, ref_field, time_field))
    found = list(rows[: limit + 1])
    return Page(items=found[:limit], has_more=len(found) > limit)


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not _LIMIT.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise Invalid(f"limit is a whole number from 1 to {MAX_LIMIT}.", param="limit")
    return int(raw)


def _older_than(queryset: QuerySet[M], ref: str, ref_field: str, time_field: str) -> Q:
    cursor = (
        queryset.filter(**{ref_field: ref}).values(time_field, "pk").first() if _REF.fullmatch(ref) else None
    )
    if cursor is None:
        raise Invalid("starting_after names no object of this list.", param="starting_after")
    moment = cursor[time_field]
    return Q(**{f"{time_field}__lt": moment}) | Q(**{time_field: moment, "pk__lt": cursor["pk"]})
