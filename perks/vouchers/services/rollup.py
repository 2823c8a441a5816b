"""The daily rollup the portal's dashboard reads, kept two ways: `PerkDay` (a perk at a
location on a day), its sums over locations (`PerkDayTotal`) and over perks
(`LocationDayTotal`), and `MerchantDay`. Each of the first three is a `Grain`.

The redemption side effects count each redemption, and each reversal, into its row of
each grain in the transaction that inserts its usage row: the usage row is the side
effect's once-only marker, so a side effect run twice, or two at once, count once. Counts
move by F(); a row missing is first inserted empty (ON CONFLICT DO NOTHING), so two first
redemptions of a day cannot both insert it.

Beat's recount (`rollup_recount`) rewrites today's and yesterday's `PerkDay` rows from the
source tables, which brings in what only it counts (vouchers issued and claimed, points
funded) and repairs any drift, then the sums from those rows. It locks the rows it
rewrites before it counts, grain after grain, each in primary-key order, as the side
effects take them: a side effect that has not committed waits and adds its count on top of
the recount, which could not see it; one that committed is in the count. A row a side
effect inserts while the recount runs is left to that side effect.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from loyalty.points.models import AccountKind, Posting, TransactionKind
from perks.catalog.models import PerkType
from perks.merchants.models import Merchant
from perks.vouchers import sql
from perks.vouchers.models import (
    LocationDayTotal,
    MerchantDay,
    PerkDay,
    PerkDayTotal,
    Redemption,
    UsageKind,
    UsageRecord,
    Voucher,
    VoucherSource,
)

# (merchant, day, perk, location): the key of a PerkDay row. Other grains' keys are
# tuples of some of these.
Key = tuple[int, date, int, int | None]
AnyKey = tuple[Any, ...]


@dataclass
class Figures:
    """The counts of one PerkDay row (or what moves them), named as its columns."""

    issued: int = 0
    claimed: int = 0
    redeemed: int = 0
    reversed: int = 0
    deposits_waived: int = 0
    deposits_waived_amount: Decimal = Decimal(0)

    def add(self, other: "Figures") -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


COUNTS = tuple(field.name for field in fields(Figures))


@dataclass(frozen=True)
class Grain:
    """One table of the rollup: its model, the `PerkDay` key fields its rows are keyed by,
    and the counts it keeps."""

    model: type[models.Model]
    key: tuple[str, ...]
    counts: tuple[str, ...] = COUNTS

    def project(self, key: Key) -> AnyKey:
        return tuple(key[_PERK_DAY_KEY.index(name)] for name in self.key)

    def sums(self, moves: dict[Key, Figures]) -> dict[AnyKey, Figures]:
        """`PerkDay` moves summed to this grain's rows (`PERK_DAY`'s are the moves
        themselves); none that move none of its counts."""
        summed: dict[AnyKey, Figures] = defaultdict(Figures)
        for key, move in moves.items():
            if any(getattr(move, name) for name in self.counts):
                summed[self.project(key)].add(move)
        return summed


_PERK_DAY_KEY = ("merchant_id", "day", "perk_id", "location_id")
PERK_DAY = Grain(PerkDay, _PERK_DAY_KEY)
PERK_DAY_TOTAL = Grain(PerkDayTotal, ("merchant_id", "day", "perk_id"))
LOCATION_DAY_TOTAL = Grain(LocationDayTotal, ("merchant_id", "day", "location_id"), ("redeemed", "reversed"))
# In the order both writers lock them.
GRAINS = (PERK_DAY, PERK_DAY_TOTAL, LOCATION_DAY_TOTAL)
TOTALS = GRAINS[1:]


def rollup_zone() -> ZoneInfo:
    """The zone whose days the rollup counts in."""
    return ZoneInfo(settings.TIME_ZONE)


def rollup_day(moment: datetime) -> date:
    return moment.astimezone(rollup_zone()).date()


def rollup_redemptions_count(*, redemption_ids: Sequence[int], kind: str) -> None:
    """Count these redemptions (kind REDEMPTION) or their reversals (REVERSAL) into their
    rows, in the caller's transaction. The caller passes exactly the redemptions whose usage
    row of `kind` it inserted in that transaction, and no other."""
    if not redemption_ids:
        return
    sign = 1 if kind == UsageKind.REDEMPTION else -1
    moves: dict[Key, Figures] = defaultdict(Figures)
    read = Redemption.objects.filter(pk__in=redemption_ids).values_list(
        "merchant_id", "occurred_at", "voucher__perk_id", "location_id", "voucher__perk__type", "benefit"
    )
    for merchant_id, occurred_at, perk_id, location_id, perk_type, benefit in read:
        move = moves[(merchant_id, rollup_day(occurred_at), perk_id, location_id)]
        if sign > 0:
            move.redeemed += 1
        else:
            move.reversed += 1
        if perk_type == PerkType.DEPOSIT_WAIVER:
            move.deposits_waived += sign
            move.deposits_waived_amount += sign * _waived(benefit)
    _rows_add(moves)


def _waived(benefit: Any) -> Decimal:
    amount = benefit.get("waived_amount") if isinstance(benefit, dict) else None
    return Decimal(amount) if amount is not None else Decimal(0)


def _rows_add(moves: dict[Key, Figures]) -> None:
    """Add each move to its row of each grain: the missing rows inserted empty first, in
    key order (so two transactions inserting the same keys wait rather than deadlock), then
    the rows locked in primary-key order (as the recount locks them) and moved in one
    statement."""
    for grain in GRAINS:
        summed = grain.sums(moves)
        keys = sorted(summed, key=_sortable)
        _rows_ensure(grain, keys)
        moves_by_row = {
            (key[0], pk): [getattr(summed[key], name) for name in grain.counts]
            for pk, key in _rows_locked(grain, keys).items()
        }
        sql.rollup_add(model=grain.model, counts=grain.counts, moves=moves_by_row)


def _sortable(key: AnyKey) -> tuple[Any, ...]:
    return tuple(0 if part is None else part for part in key)


def _rows_ensure(grain: Grain, keys: Iterable[AnyKey]) -> None:
    grain.model._default_manager.bulk_create(
        [grain.model(**dict(zip(grain.key, key, strict=True))) for key in keys], ignore_conflicts=True
    )


def _rows_locked(grain: Grain, keys: Sequence[AnyKey]) -> dict[int, AnyKey]:
    """The primary key of each key's row, the rows locked in primary-key order."""
    if not keys:
        return {}
    match = Q()
    for key in keys:
        match |= Q(**dict(zip(grain.key, key, strict=True)))
    wanted = set(keys)
    rows = (
        grain.model._default_manager.filter(match)
        .select_for_update(of=("self",))
        .order_by("pk")
        .values_list("pk", *grain.key)
    )
    return {pk: tuple(key) for pk, *key in rows if tuple(key) in wanted}


def rollup_recount(*, first: date, last: date, merchant: Merchant | None = None) -> int:
    """Rewrite the rows of the days `first` to `last` (of one merchant, or all) from the
    source tables: vouchers issued and claimed, redemptions and reversals whose usage row is
    recorded, deposits waived, points funded; then their sums. Safe to run twice, and beside
    the side effects. The number of PerkDay rows it changed."""
    merchant_ids = None if merchant is None else [merchant.pk]
    with transaction.atomic():
        changed = _rewrite(PERK_DAY, first, last, merchant_ids, lambda: _perk_days(first, last, merchant_ids))
        _totals_rewrite(first, last, merchant_ids)
        _merchant_days_recount(first, last, merchant_ids)
    return changed


def rollup_totals_recount(*, first: date, last: date, merchant: Merchant | None = None) -> None:
    """Rewrite the sums of the days `first` to `last` from their `PerkDay` rows as they
    stand, for rows written there directly (benchmarks, tests)."""
    with transaction.atomic():
        _totals_rewrite(first, last, None if merchant is None else [merchant.pk])


def _totals_rewrite(first: date, last: date, merchant_ids: list[int] | None) -> None:
    for grain in TOTALS:
        _rewrite(grain, first, last, merchant_ids, partial(_summed, grain, first, last, merchant_ids))


def _rewrite(
    grain: Grain,
    first: date,
    last: date,
    merchant_ids: list[int] | None,
    count: Callable[[], dict[AnyKey, Figures]],
) -> int:
    """Set the grain's rows of the range to what `count` says, counted after they are
    locked; rows it does not name to zero. The number of rows changed."""
    _rows_ensure(grain, sorted(count(), key=_sortable))
    rows = list(
        _in_range(grain.model._default_manager.all(), first, last, merchant_ids)
        .select_for_update(of=("self",))
        .order_by("pk")
    )
    counted = count()
    changed = []
    for row in rows:
        want = counted.get(tuple(getattr(row, name) for name in grain.key), Figures())
        if any(getattr(row, name) != getattr(want, name) for name in grain.counts):
            for name in grain.counts:
                setattr(row, name, getattr(want, name))
            changed.append(row)
    grain.model._default_manager.bulk_update(changed, grain.counts, batch_size=500)
    return len(changed)


def _summed(grain: Grain, first: date, last: date, merchant_ids: list[int] | None) -> dict[AnyKey, Figures]:
    """The grain's rows of the range as the sums of their `PerkDay` rows."""
    rows = (
        _in_range(PerkDay.objects.all(), first, last, merchant_ids)
        .values_list(*grain.key)
        .annotate(**{name: Sum(name) for name in grain.counts})
        .order_by()
    )
    return {
        tuple(row[: len(grain.key)]): Figures(**dict(zip(grain.counts, row[len(grain.key) :], strict=True)))
        for row in rows
        if any(row[len(grain.key) :])
    }


def rollup_recount_recent() -> int:
    """Beat's recount of yesterday and today."""
    today = rollup_day(timezone.now())
    return rollup_recount(first=today - timedelta(days=1), last=today)


def _in_range(rows: QuerySet[Any], first: date, last: date, merchant_ids: list[int] | None) -> QuerySet[Any]:
    rows = rows.filter(day__gte=first, day__lte=last)
    return rows if merchant_ids is None else rows.filter(merchant_id__in=merchant_ids)


def _moments(first: date, last: date) -> tuple[datetime, datetime]:
    """The days as a half-open range of moments."""
    zone = rollup_zone()
    return datetime.combine(first, time(), zone), datetime.combine(last + timedelta(days=1), time(), zone)


def _perk_days(first: date, last: date, merchant_ids: list[int] | None) -> dict[Key, Figures]:
    """What each PerkDay row of the range should hold, counted from the source tables."""
    start, end = _moments(first, last)
    scope = {} if merchant_ids is None else {"merchant_id__in": merchant_ids}
    counted: dict[Key, Figures] = defaultdict(Figures)
    zone = rollup_zone()
    issued = (
        Voucher.objects.filter(issued_at__gte=start, issued_at__lt=end, **scope)
        .annotate(day=TruncDate("issued_at", tzinfo=zone))
        .values_list("merchant_id", "day", "perk_id")
        .annotate(issued=Count("pk"), claimed=Count("pk", filter=Q(source=VoucherSource.CLAIM)))
        .order_by()
    )
    for merchant_id, day, perk_id, n_issued, n_claimed in issued:
        counted[(merchant_id, day, perk_id, None)].add(Figures(issued=n_issued, claimed=n_claimed))
    for kind in (UsageKind.REDEMPTION, UsageKind.REVERSAL):
        for key, figures in _used(kind, start, end, scope):
            counted[key].add(figures)
    return counted


def _used(kind: str, start: datetime, end: datetime, scope: dict[str, Any]) -> Iterable[tuple[Key, Figures]]:
    """Redemptions of the range whose usage row of `kind` is recorded, by their row."""
    recorded = UsageRecord.objects.filter(kind=kind).values("redemption_id")
    waiver = Q(voucher__perk__type=PerkType.DEPOSIT_WAIVER)
    redemptions = (
        Redemption.objects.filter(occurred_at__gte=start, occurred_at__lt=end, pk__in=recorded, **scope)
        .annotate(day=TruncDate("occurred_at", tzinfo=rollup_zone()))
        .values_list("merchant_id", "day", "voucher__perk_id", "location_id", "pk", "benefit")
        .filter(waiver)
    )
    waived: dict[Key, Decimal] = defaultdict(Decimal)
    for merchant_id, day, perk_id, location_id, _pk, benefit in redemptions:
        waived[(merchant_id, day, perk_id, location_id)] += _waived(benefit)
    counts = (
        Redemption.objects.filter(occurred_at__gte=start, occurred_at__lt=end, pk__in=recorded, **scope)
        .annotate(day=TruncDate("occurred_at", tzinfo=rollup_zone()))
        .values_list("merchant_id", "day", "voucher__perk_id", "location_id")
        .annotate(n=Count("pk"), waivers=Count("pk", filter=waiver))
        .order_by()
    )
    sign = 1 if kind == UsageKind.REDEMPTION else -1
    for merchant_id, day, perk_id, location_id, n, waivers in counts:
        key = (merchant_id, day, perk_id, location_id)
        figures = Figures(
            deposits_waived=sign * waivers, deposits_waived_amount=sign * waived.get(key, Decimal(0))
        )
        if sign > 0:
            figures.redeemed = n
        else:
            figures.reversed = n
        yield key, figures


def _merchant_days_recount(first: date, last: date, merchant_ids: list[int] | None) -> None:
    """Points funded a day: minus what each merchant's funding account gave in earns, net of
    the earns reversed (every earn is a purchase at that merchant)."""
    start, end = _moments(first, last)
    postings = Posting.objects.filter(
        Q(transaction__kind=TransactionKind.EARN)
        | Q(transaction__kind=TransactionKind.REVERSE, transaction__reverses__kind=TransactionKind.EARN),
        account__kind=AccountKind.MERCHANT,
        transaction__created_at__gte=start,
        transaction__created_at__lt=end,
    )
    refs = Merchant.objects.all() if merchant_ids is None else Merchant.objects.filter(pk__in=merchant_ids)
    by_ref = dict(refs.values_list("ref", "pk"))
    if merchant_ids is not None:
        postings = postings.filter(account__merchant_ref__in=list(by_ref))
    funded = (
        postings.annotate(day=TruncDate("transaction__created_at", tzinfo=rollup_zone()))
        .values_list("account__merchant_ref", "day")
        .annotate(points=Sum("amount"))
        .order_by()
    )
    want = {(by_ref[ref], day): -points for ref, day, points in funded if ref in by_ref}
    stale = _in_range(MerchantDay.objects.all(), first, last, merchant_ids).exclude(points_funded=0)
    for merchant_id, day in stale.values_list("merchant_id", "day"):
        want.setdefault((merchant_id, day), 0)
    MerchantDay.objects.bulk_create(
        [MerchantDay(merchant_id=m, day=d, points_funded=points) for (m, d), points in sorted(want.items())],
        update_conflicts=True,
        unique_fields=["merchant", "day"],
        update_fields=["points_funded"],
    )
