"""Earning points on purchases reported by partners, once per (merchant, event id).

The same rows come out of two paths: a plain one that posts purchase by purchase through
the ledger primitive (SQLite, and the reference), and on PostgreSQL a set-based one that
stages a batch with COPY and writes its transactions, postings, lots and balances with a
handful of INSERT … SELECT and UPDATE … FROM statements (loyalty/points/sql.py), so a
nightly import of a million purchases takes seconds (bench/points_earn.py). Wallets are
locked, in id order, only for the last two statements, so members' claims wait as little as
possible. tests/loyalty/points/test_sql.py checks that both paths write the same rows.
"""

import bisect
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Generic, TypeVar

from django.conf import settings
from django.db import IntegrityError, connection
from django.db.backends.utils import CursorWrapper
from django.db.transaction import atomic
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.members.models import Member
from loyalty.points import sql
from loyalty.points.models import Account, EarnRule, PointsTransaction, TierMultiplier, TransactionKind
from loyalty.points.services.accounts import merchant_account_for, wallet_for_member
from loyalty.points.services.ledger import Draft, post_draft
from loyalty.scoring.models import MemberStanding

EXTERNAL_ID_MAX_LENGTH = 200
AMOUNT_MAX_DIGITS = 14
AMOUNT_MAX_PLACES = 4
BULK_BATCH_SIZE = 1_000_000
CURRENCY = re.compile(r"^[A-Z]{3}$")
PURCHASE = "purchase"

V = TypeVar("V", EarnRule, TierMultiplier)
Subject = str | int  # a currency for earn rules, a tier id for multipliers


@dataclass(frozen=True)
class Purchase:
    external_id: str
    member_id: int
    amount: Decimal
    currency: str
    occurred_at: datetime


@dataclass
class EarnResult:
    earned: int = 0  # purchases that earned points now
    duplicates: int = 0  # already earned before, or repeated in this call
    unrated: int = 0  # no earn rule for the currency at that time, or worth less than a point
    points: int = 0  # points earned now, in total

    def add(self, other: "EarnResult") -> None:
        self.earned += other.earned
        self.duplicates += other.duplicates
        self.unrated += other.unrated
        self.points += other.points


@dataclass(frozen=True)
class _Merchant:
    ref: str
    name: str
    category: str
    account: Account

    def key(self, external_id: str) -> str:
        return f"{PURCHASE}:{self.ref}:{external_id}"

    def reason_params(self, purchase: Purchase) -> dict[str, str]:
        return {"merchant_name": self.name, "amount": str(purchase.amount), "currency": purchase.currency}

    @property
    def actor(self) -> str:
        return f"merchant:{self.ref}"


class _Versions(Generic[V]):
    """The versions of a rule per subject (a currency, a tier), to find the one in force at a time."""

    def __init__(self, versions: dict[Subject, list[V]]) -> None:
        self._versions: dict[Subject, list[V]] = versions
        self._starts: dict[Subject, list[datetime]] = {
            subject: [v.effective_from for v in vs] for subject, vs in versions.items()
        }

    def at(self, subject: Subject | None, when: datetime) -> V | None:
        if subject is None:
            return None
        index = bisect.bisect_right(self._starts.get(subject, []), when) - 1
        return self._versions[subject][index] if index >= 0 else None

    def ranges(self) -> Iterator[tuple[Subject, datetime, datetime | None, V]]:
        for subject, versions in self._versions.items():
            ends: list[datetime | None] = [v.effective_from for v in versions[1:]]
            for version, end in zip(versions, [*ends, None], strict=True):
                yield subject, version.effective_from, end, version


def _earn_rules(category: str) -> _Versions[EarnRule]:
    by_currency: dict[Subject, list[EarnRule]] = defaultdict(list)
    for rule in EarnRule.objects.filter(merchant_category=category).order_by("effective_from"):
        by_currency[rule.currency].append(rule)
    return _Versions(by_currency)


def _tier_multipliers() -> _Versions[TierMultiplier]:
    by_tier: dict[Subject, list[TierMultiplier]] = defaultdict(list)
    for version in TierMultiplier.objects.order_by("effective_from"):
        by_tier[version.tier_id].append(version)
    return _Versions(by_tier)


def earned_points(amount: Decimal, rule: EarnRule, multiplier: TierMultiplier | None) -> int:
    """Whole points, rounded down; exact decimal arithmetic, as numeric is in PostgreSQL."""
    with localcontext() as exact:
        exact.prec = 60
        factor = multiplier.multiplier if multiplier else Decimal(1)
        return int((amount * rule.points_per_unit * factor).to_integral_value(rounding=ROUND_FLOOR))


def _validated(purchases: Sequence[Purchase]) -> tuple[list[Purchase], int]:
    """The purchases to earn on, first of each event id, and how many repeated one."""
    unique: dict[str, Purchase] = {}
    currencies: set[str] = set()
    for index, purchase in enumerate(purchases):
        if (field := _malformed(purchase, currencies)) is not None:
            message = {
                "external_id": "An event id of 1 to 200 characters is required.",
                "amount": "The amount must be a positive decimal of at most 10 digits and 4 decimal places.",
                "currency": "The currency must be an ISO 4217 code such as CNY.",
                "occurred_at": "The time must carry a timezone.",
            }[field]
            raise Invalid(message, param=f"purchases[{index}].{field}")
        unique.setdefault(purchase.external_id, purchase)
    return list(unique.values()), len(purchases) - len(unique)


def _malformed(purchase: Purchase, currencies: set[str]) -> str | None:
    """The first field of `purchase` that is not acceptable, if any (run a million times a night)."""
    external_id = purchase.external_id
    if not isinstance(external_id, str) or not 0 < len(external_id) <= EXTERNAL_ID_MAX_LENGTH:
        return "external_id"
    amount = purchase.amount
    if (
        not isinstance(amount, Decimal)
        or not amount.is_finite()
        or amount <= 0
        or amount.adjusted() >= AMOUNT_MAX_DIGITS - AMOUNT_MAX_PLACES
        or -int(amount.as_tuple().exponent) > AMOUNT_MAX_PLACES
    ):
        return "amount"
    if purchase.currency not in currencies:
        if not isinstance(purchase.currency, str) or not CURRENCY.match(purchase.currency):
            return "currency"
        currencies.add(purchase.currency)
    occurred_at = purchase.occurred_at
    if not isinstance(occurred_at, datetime) or occurred_at.utcoffset() is None:
        return "occurred_at"
    return None


def points_earn_purchases(
    *, merchant_ref: str, merchant_name: str, merchant_category: str, purchases: Sequence[Purchase]
) -> EarnResult:
    """Earn points on each purchase once, idempotently by (merchant_ref, external_id).

    Points = amount times the category's earn rule for the currency in force at `occurred_at`
    times the multiplier in force then for the member's current tier (1 without a standing),
    rounded down. The merchant's funding account pays for them. Each purchase is its own
    transaction, with the rule versions it was earned under; a batch is one database
    transaction.
    """
    unique, repeated = _validated(purchases)
    earn = _earn_set_based if connection.vendor == "postgresql" else _earn_plain
    result = EarnResult(duplicates=repeated)
    for start in range(0, len(unique), BULK_BATCH_SIZE):
        batch = unique[start : start + BULK_BATCH_SIZE]
        try:
            result.add(_earn_batch(earn, merchant_ref, merchant_name, merchant_category, batch))
        except IntegrityError:
            # Another import of some of these purchases committed while this one ran: they
            # are duplicates now, and a second attempt skips them.
            result.add(_earn_batch(earn, merchant_ref, merchant_name, merchant_category, batch))
    return result


def _earn_batch(
    earn: Callable[["_Merchant", list[Purchase]], EarnResult],
    merchant_ref: str,
    merchant_name: str,
    merchant_category: str,
    batch: list[Purchase],
) -> EarnResult:
    with atomic():
        account = merchant_account_for(merchant_ref=merchant_ref)
        merchant = _Merchant(
            ref=merchant_ref, name=merchant_name, category=merchant_category, account=account
        )
        return earn(merchant, batch)


def _unknown_member(member_ids: set[int]) -> int | None:
    known = set(Member.objects.filter(pk__in=member_ids).values_list("pk", flat=True))
    return next(iter(member_ids - known), None)


def _refuse_unknown_member(member_id: int) -> None:
    raise Invalid(f"No member with id {member_id}.", param="member_id")


def _earn_plain(merchant: _Merchant, purchases: list[Purchase]) -> EarnResult:
    member_ids = {p.member_id for p in purchases}
    if (unknown := _unknown_member(member_ids)) is not None:
        _refuse_unknown_member(unknown)
    keys = [merchant.key(p.external_id) for p in purchases]
    done = set(
        PointsTransaction.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True)
    )
    tiers = dict(MemberStanding.objects.filter(member_id__in=member_ids).values_list("member_id", "tier_id"))
    rules, multipliers = _earn_rules(merchant.category), _tier_multipliers()
    result = EarnResult()
    for purchase, key in zip(purchases, keys, strict=True):
        if key in done:
            result.duplicates += 1
            continue
        rule = rules.at(purchase.currency, purchase.occurred_at)
        multiplier = multipliers.at(tiers.get(purchase.member_id), purchase.occurred_at)
        points = earned_points(purchase.amount, rule, multiplier) if rule else 0
        if points <= 0:
            result.unrated += 1
            continue
        wallet = wallet_for_member(member_id=purchase.member_id)
        post_draft(
            Draft(
                idempotency_key=key,
                kind=TransactionKind.EARN,
                entries=[(wallet, points), (merchant.account, -points)],
                reason_code=PURCHASE,
                reason_params=merchant.reason_params(purchase),
                actor=merchant.actor,
                request={},
                merchant_ref=merchant.ref,
                earn_rule=rule,
                tier_multiplier=multiplier,
                occurred_at=purchase.occurred_at,
            )
        )
        result.earned += 1
        result.points += points
    return result


def _earn_set_based(merchant: _Merchant, purchases: list[Purchase]) -> EarnResult:
    params = {
        "now": timezone.now(),
        "merchant_account": merchant.account.pk,
        "merchant_ref": merchant.ref,
        "merchant_name": merchant.name,
        "actor": merchant.actor,
        "key_prefix": merchant.key(""),
        "tz": settings.TIME_ZONE,
        "months": settings.POINTS_EXPIRY_MONTHS,
    }
    result = EarnResult()
    with connection.cursor() as cursor:
        params["transaction_ids"] = sql.earn_stage(cursor, purchases)
        _stage_versions(cursor, merchant.category)
        rated, result.duplicates, result.unrated = sql.earn_rate_and_record(cursor, params)
        if rated < len(purchases):
            _refuse_unknown_member(sql.earn_unknown_member(cursor))
        result.points = sql.earn_post_and_credit(cursor, params)
        sql.earn_unstage(cursor)
    result.earned = len(purchases) - result.duplicates - result.unrated
    return result


def _stage_versions(cursor: CursorWrapper, category: str) -> None:
    rules = [(c, start, end, v.pk, v.points_per_unit) for c, start, end, v in _earn_rules(category).ranges()]
    tiers = [(t, start, end, v.pk, v.multiplier) for t, start, end, v in _tier_multipliers().ranges()]
    sql.earn_stage_versions(cursor, rules, tiers)
