"""Earning points on purchases reported by partners, once per (merchant, event id).

The same rows come out of two paths: a plain one that posts purchase by purchase through
the ledger primitive (SQLite, and the reference), and on PostgreSQL a set-based one that
stages a batch with COPY and writes its transactions, postings, lots and balances with a
handful of INSERT … SELECT and UPDATE … FROM statements, so a nightly import of a million
purchases takes seconds (bench/points_earn.py). Wallets are locked, in id order, only for
the last two statements, so members' claims wait as little as possible.
tests/loyalty/points/test_earn.py checks that both paths write the same rows.
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


# The set-based path. Table names are Django's defaults for these models.

_STAGE = """
CREATE TEMP TABLE points_earn_stage (
    external_id text NOT NULL, member_id bigint NOT NULL, amount text NOT NULL,
    currency text NOT NULL, occurred_at timestamptz NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE points_earn_rates (
    currency text, valid_from timestamptz, valid_until timestamptz, rule_id bigint, rate numeric
) ON COMMIT DROP;
CREATE TEMP TABLE points_earn_multipliers (
    tier_id bigint, valid_from timestamptz, valid_until timestamptz, multiplier_id bigint, multiplier numeric
) ON COMMIT DROP;
CREATE TEMP TABLE points_earn_earned (
    transaction_id bigint, account_id bigint, points bigint, earned_on date
) ON COMMIT DROP;
"""

_OPEN_WALLETS = """
INSERT INTO points_account (kind, member_id, balance, created_at)
SELECT 'member', s.member_id, 0, %(now)s
FROM (SELECT DISTINCT member_id FROM points_earn_stage) s
JOIN members_member m ON m.id = s.member_id
WHERE NOT EXISTS (SELECT 1 FROM points_account a WHERE a.member_id = s.member_id)
ORDER BY s.member_id  -- two imports opening the same wallets wait for each other in one order
ON CONFLICT (member_id) DO NOTHING
"""

# Only asked when some purchase found no wallet, to name its member.
_UNKNOWN_MEMBER = """
SELECT s.member_id FROM points_earn_stage s
WHERE NOT EXISTS (SELECT 1 FROM members_member m WHERE m.id = s.member_id) LIMIT 1
"""

_LOCK_ACCOUNTS = """
SELECT id FROM points_account
WHERE id IN (SELECT account_id FROM points_earn_earned UNION ALL SELECT %(merchant_account)s)
ORDER BY id FOR NO KEY UPDATE
"""

# Rates every purchase, writes the transactions of those that earn and were not earned
# before, and keeps what the postings, lots and balances need in a narrow table, in one
# statement. Transaction ids are drawn in key order, so both indexes of the transactions
# grow in order. A concurrent import of the same purchases makes it fail on the unique
# key; see points_earn_purchases.
_RATE_AND_RECORD = """
WITH rated AS MATERIALIZED (
    SELECT nextval(%(transaction_ids)s::regclass) AS transaction_id, sorted.*,
           EXISTS (SELECT 1 FROM points_pointstransaction t WHERE t.idempotency_key = sorted.idempotency_key)
               AS earned_before
    FROM (
        SELECT (%(key_prefix)s || s.external_id) COLLATE "C" AS idempotency_key, a.id AS account_id,
               s.occurred_at, (s.occurred_at AT TIME ZONE %(tz)s)::date AS earned_on,
               s.amount, s.currency, r.rule_id, m.multiplier_id,
               floor(s.amount::numeric * r.rate * coalesce(m.multiplier, 1))::bigint AS points
        FROM points_earn_stage s
        JOIN points_account a ON a.member_id = s.member_id
        LEFT JOIN points_earn_rates r ON r.currency = s.currency
            AND s.occurred_at >= r.valid_from AND s.occurred_at < coalesce(r.valid_until, 'infinity')
        LEFT JOIN scoring_memberstanding ms ON ms.member_id = s.member_id
        LEFT JOIN points_earn_multipliers m ON m.tier_id = ms.tier_id
            AND s.occurred_at >= m.valid_from AND s.occurred_at < coalesce(m.valid_until, 'infinity')
        ORDER BY s.external_id COLLATE "C"
    ) sorted
),
recorded AS (
    INSERT INTO points_pointstransaction (
        id, idempotency_key, kind, reason_code, reason_params, actor, merchant_ref,
        earn_rule_id, tier_multiplier_id, request_hash, occurred_at, created_at)
    SELECT transaction_id, idempotency_key, 'earn', 'purchase',
           jsonb_build_object(
               'merchant_name', %(merchant_name)s::text, 'amount', amount, 'currency', currency),
           %(actor)s, %(merchant_ref)s, rule_id, multiplier_id, '', occurred_at, %(now)s
    FROM rated WHERE points > 0 AND NOT earned_before
),
kept AS (
    INSERT INTO points_earn_earned (transaction_id, account_id, points, earned_on)
    SELECT transaction_id, account_id, points, earned_on FROM rated WHERE points > 0 AND NOT earned_before
)
SELECT count(*),
       count(*) FILTER (WHERE earned_before),
       count(*) FILTER (WHERE NOT earned_before AND coalesce(points, 0) <= 0)
FROM rated
"""

_INSERT_POSTINGS = """
INSERT INTO points_posting (transaction_id, account_id, amount)
SELECT transaction_id, account_id, points FROM points_earn_earned
UNION ALL
SELECT transaction_id, %(merchant_account)s, -points FROM points_earn_earned
"""

_CREDIT_LOTS = """
INSERT INTO points_pointslot (account_id, earned_on, expires_on, points, remaining)
SELECT account_id, earned_on, (earned_on + make_interval(months => %(months)s))::date,
       sum(points), sum(points)
FROM points_earn_earned GROUP BY account_id, earned_on
ON CONFLICT (account_id, earned_on) DO UPDATE
SET points = points_pointslot.points + excluded.points,
    remaining = points_pointslot.remaining + excluded.remaining
"""

_CREDIT_BALANCES = """
WITH credits AS (
    SELECT account_id, sum(points)::bigint AS points FROM points_earn_earned GROUP BY account_id
    UNION ALL
    SELECT %(merchant_account)s, -coalesce(sum(points), 0)::bigint FROM points_earn_earned
)
UPDATE points_account a SET balance = a.balance + credits.points FROM credits WHERE a.id = credits.account_id
RETURNING credits.points
"""

_DROP = "DROP TABLE points_earn_stage, points_earn_rates, points_earn_multipliers, points_earn_earned"


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
        # Resolved once: as an argument of each row's nextval() it would be looked up per row.
        cursor.execute("SELECT pg_get_serial_sequence('points_pointstransaction', 'id')")
        (params["transaction_ids"],) = cursor.fetchone()
        # Memory for this transaction's sorts and hashes, so a large batch is not spilled to disk.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(_STAGE)
        with cursor.cursor.copy("COPY points_earn_stage FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "int8", "text", "text", "timestamptz"])
            for p in purchases:
                copy.write_row((p.external_id, p.member_id, str(p.amount), p.currency, p.occurred_at))
        _stage_versions(cursor, merchant.category)
        cursor.execute(_OPEN_WALLETS, params)
        cursor.execute(_RATE_AND_RECORD, params)
        rated, result.duplicates, result.unrated = cursor.fetchone()
        if rated < len(purchases):
            cursor.execute(_UNKNOWN_MEMBER)
            _refuse_unknown_member(cursor.fetchone()[0])
        cursor.execute(_INSERT_POSTINGS, params)
        # Locked only now, for the lots and balances, so a member's claims wait the least.
        cursor.execute(_LOCK_ACCOUNTS, params)
        cursor.execute(_CREDIT_LOTS, params)
        cursor.execute(_CREDIT_BALANCES, params)
        result.points = sum(points for (points,) in cursor.fetchall() if points > 0)
        cursor.execute(_DROP)
    result.earned = len(purchases) - result.duplicates - result.unrated
    return result


def _stage_versions(cursor: CursorWrapper, category: str) -> None:
    rules = [(c, start, end, v.pk, v.points_per_unit) for c, start, end, v in _earn_rules(category).ranges()]
    tiers = [(t, start, end, v.pk, v.multiplier) for t, start, end, v in _tier_multipliers().ranges()]
    cursor.executemany("INSERT INTO points_earn_rates VALUES (%s, %s, %s, %s, %s)", rules)
    cursor.executemany("INSERT INTO points_earn_multipliers VALUES (%s, %s, %s, %s, %s)", tiers)
