"""A merchant's redemptions and vouchers as CSV, for a date range, streamed.

An export may run to millions of rows, so none of it is ever held whole: rows come off the
database a chunk at a time and leave as CSV text a chunk at a time (the portal streams them).
Where the database connection may keep a server-side cursor open, one query is read through
it (`iterator(chunk_size=…)`, a named cursor on PostgreSQL). Behind a transaction-pooling
PgBouncer Django opens none (DISABLE_SERVER_SIDE_CURSORS), and a plain cursor would bring the
whole result into the driver's memory, so there the rows are read in keyset batches instead,
each a short query of its own.

Members are named as everywhere on the merchant side: the member cell holds a ref only while
the member has an active link with the merchant (`voucher_member_ref`), and is empty else.
A cell a spreadsheet would read as a formula (=, +, -, @, tab, carriage return first) is
written with a leading apostrophe.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from loyalty.members.models import MerchantLink
from perks.catalog.wording import in_active_language
from perks.merchants.models import Merchant
from perks.vouchers.codes import code_format
from perks.vouchers.models import Redemption, Voucher

EXPORT_CHUNK = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

REDEMPTION_HEADER = ("ref", "time", "perk", "location", "voucher_code", "member", "channel", "reversed_at")
VOUCHER_HEADER = ("voucher_code", "issued_at", "perk", "status", "uses", "expires_at", "member", "source")


def redemptions_csv(*, merchant: Merchant, since: datetime, until: datetime) -> Iterator[str]:
    """The merchant's redemptions made in [since, until), oldest first, as CSV text in chunks."""
    redemptions = Redemption.objects.filter(merchant=merchant, created_at__gte=since, created_at__lt=until)
    rows = redemptions.annotate(member_linked=_linked(merchant, "voucher__member_id")).values_list(
        "pk",
        "created_at",
        "ref",
        "voucher__perk__title",
        "voucher__perk__title_zh",
        "location__name",
        "voucher__code",
        "voucher__member__ref",
        "member_linked",
        "channel",
        "reversal__created_at",
    )
    yield _csv((REDEMPTION_HEADER,))
    for chunk in _chunks(rows, time_field="created_at"):
        yield _csv(map(_redemption_row, chunk))


def vouchers_csv(*, merchant: Merchant, since: datetime, until: datetime) -> Iterator[str]:
    """The merchant's vouchers issued in [since, until), oldest first, as CSV text in chunks."""
    vouchers = Voucher.objects.filter(merchant=merchant, issued_at__gte=since, issued_at__lt=until)
    rows = vouchers.annotate(member_linked=_linked(merchant, "member_id")).values_list(
        "pk",
        "issued_at",
        "code",
        "perk__title",
        "perk__title_zh",
        "status",
        "uses_count",
        "uses_allowed",
        "expires_at",
        "member__ref",
        "member_linked",
        "source",
    )
    yield _csv((VOUCHER_HEADER,))
    for chunk in _chunks(rows, time_field="issued_at"):
        yield _csv(map(_voucher_row, chunk))


def _redemption_row(row: tuple[Any, ...]) -> tuple[str, ...]:
    _pk, at, ref, title, title_zh, place, code, member, linked, channel, reversed_at = row
    perk = in_active_language(title, title_zh)
    member = member if linked else ""
    return (ref, _time(at), perk, place or "", code_format(code), member, channel, _time(reversed_at))


def _voucher_row(row: tuple[Any, ...]) -> tuple[str, ...]:
    _pk, at, code, title, title_zh, status, used, allowed, expires, member, linked, source = row
    perk = in_active_language(title, title_zh)
    member = member if linked else ""
    return (code_format(code), _time(at), perk, status, f"{used}/{allowed}", _time(expires), member, source)


def csv_cell(value: Any) -> str:
    """`value` as a cell no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _linked(merchant: Merchant, member_field: str) -> Exists:
    return Exists(
        MerchantLink.objects.filter(
            member_id=OuterRef(member_field), merchant_ref=merchant.ref, ended_at__isnull=True
        )
    )


def _chunks(rows: QuerySet[Any], *, time_field: str) -> Iterator[Sequence[tuple[Any, ...]]]:
    """The rows (whose first two values are the primary key and `time_field`) in (time, pk)
    order, EXPORT_CHUNK at a time, through a server-side cursor where the connection may
    hold one and in keyset batches where it may not (see the module's docstring)."""
    ordered = rows.order_by(time_field, "pk")
    if _server_side_cursors(ordered.db):
        chunk: list[tuple[Any, ...]] = []
        for row in ordered.iterator(chunk_size=EXPORT_CHUNK):
            chunk.append(row)
            if len(chunk) == EXPORT_CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
        return
    after: tuple[Any, Any] | None = None
    while True:
        batch = ordered
        if after is not None:
            pk, at = after
            # (time, pk) > (at, pk), written so the index on time bounds the scan.
            batch = batch.filter(**{f"{time_field}__gte": at}).exclude(**{time_field: at, "pk__lte": pk})
        found = list(batch[:EXPORT_CHUNK])
        if not found:
            return
        yield found
        after = found[-1][0], found[-1][1]


def _server_side_cursors(alias: str) -> bool:
    """Whether `iterator()` on this connection steps through the result as it is read (a
    named cursor on PostgreSQL, SQLite's own stepping) rather than bringing it whole into
    the client first: not where DISABLE_SERVER_SIDE_CURSORS is set (transaction pooling)."""
    connection = connections[alias]
    if connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS", False):
        return False
    return connection.vendor in ("postgresql", "sqlite")


def _time(at: datetime | None) -> str:
    return "" if at is None else timezone.localtime(at).isoformat(timespec="seconds")


def _csv(rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return out.getvalue()
