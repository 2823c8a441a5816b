# ruff: noqa: S608  (table names come from the models, constants from their choices)
"""Every statement the points app writes out by hand, each beside the ORM code it stands in
for (`replaces`); tests/loyalty/points/test_sql.py holds each pair to the same answers.

They are the steps of the set-based earn (services/earn.py runs them in order, on
PostgreSQL): a batch of purchases is COPYed into a temporary table and its transactions,
postings, lots and balances are written with a handful of INSERT … SELECT and UPDATE … FROM
statements. Together they write what `_earn_plain` writes purchase by purchase, so each
names it. The temporary tables' DDL, the session's memory setting and the look-up of the
transactions' id sequence stand in for no ORM code and are not Statements.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db.backends.utils import CursorWrapper

from loyalty.core.sql import Statement
from loyalty.members.models import Member
from loyalty.points.models import Account, AccountKind, PointsLot, PointsTransaction, Posting, TransactionKind
from loyalty.scoring.models import MemberStanding

if TYPE_CHECKING:
    from loyalty.points.services.earn import Purchase

EARN = "loyalty.points.services.earn:_earn_plain"
_ACCOUNTS = Account._meta.db_table
_MEMBERS = Member._meta.db_table
_TRANSACTIONS = PointsTransaction._meta.db_table

_STAGE_TABLES = """
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
_DROP_STAGE_TABLES = (
    "DROP TABLE points_earn_stage, points_earn_rates, points_earn_multipliers, points_earn_earned"
)

EARN_STAGE_PURCHASES = Statement("COPY points_earn_stage FROM STDIN (FORMAT BINARY)", replaces=EARN)
_STAGE_TYPES = ["text", "int8", "text", "text", "timestamptz"]

# The versions of the earn rules and the tier multipliers, each with the time it ends.
EARN_STAGE_RATES = Statement("INSERT INTO points_earn_rates VALUES (%s, %s, %s, %s, %s)", replaces=EARN)
EARN_STAGE_MULTIPLIERS = Statement(
    "INSERT INTO points_earn_multipliers VALUES (%s, %s, %s, %s, %s)", replaces=EARN
)

EARN_OPEN_WALLETS = Statement(
    f"""
INSERT INTO {_ACCOUNTS} (kind, member_id, balance, created_at)
SELECT '{AccountKind.MEMBER.value}', s.member_id, 0, %(now)s
FROM (SELECT DISTINCT member_id FROM points_earn_stage) s
JOIN {_MEMBERS} m ON m.id = s.member_id
WHERE NOT EXISTS (SELECT 1 FROM {_ACCOUNTS} a WHERE a.member_id = s.member_id)
ORDER BY s.member_id  -- two imports opening the same wallets wait for each other in one order
ON CONFLICT (member_id) DO NOTHING
""",  # nosec B608  # model names and constants only; values are bound parameters
    replaces=EARN,
)

# Only asked when some purchase found no wallet, to name its member.
EARN_UNKNOWN_MEMBER = Statement(
    f"""
SELECT s.member_id FROM points_earn_stage s
WHERE NOT EXISTS (SELECT 1 FROM {_MEMBERS} m WHERE m.id = s.member_id) LIMIT 1
""",  # nosec B608  # model names and constants only; values are bound parameters
    replaces="loyalty.points.services.earn:_unknown_member",
)

EARN_LOCK_ACCOUNTS = Statement(
    f"""
SELECT id FROM {_ACCOUNTS}
WHERE id IN (SELECT account_id FROM points_earn_earned UNION ALL SELECT %(merchant_account)s)
ORDER BY id FOR NO KEY UPDATE
""",  # nosec B608  # model names and constants only; values are bound parameters
    replaces=EARN,
)

# Rates every purchase, writes the transactions of those that earn and were not earned
# before, and keeps what the postings, lots and balances need in a narrow table, in one
# statement. Transaction ids are drawn in key order, so both indexes of the transactions
# grow in order. A concurrent import of the same purchases makes it fail on the unique
# key; see points_earn_purchases.
EARN_RATE_AND_RECORD = Statement(
    f"""
WITH rated AS MATERIALIZED (
    SELECT nextval(%(transaction_ids)s::regclass) AS transaction_id, sorted.*,
           EXISTS (SELECT 1 FROM {_TRANSACTIONS} t WHERE t.idempotency_key = sorted.idempotency_key)
               AS earned_before
    FROM (
        SELECT (%(key_prefix)s || s.external_id) COLLATE "C" AS idempotency_key, a.id AS account_id,
               s.occurred_at, (s.occurred_at AT TIME ZONE %(tz)s)::date AS earned_on,
               s.amount, s.currency, r.rule_id, m.multiplier_id,
               floor(s.amount::numeric * r.rate * coalesce(m.multiplier, 1))::bigint AS points
        FROM points_earn_stage s
        JOIN {_ACCOUNTS} a ON a.member_id = s.member_id
        LEFT JOIN points_earn_rates r ON r.currency = s.currency
            AND s.occurred_at >= r.valid_from AND s.occurred_at < coalesce(r.valid_until, 'infinity')
        LEFT JOIN {MemberStanding._meta.db_table} ms ON ms.member_id = s.member_id
        LEFT JOIN points_earn_multipliers m ON m.tier_id = ms.tier_id
            AND s.occurred_at >= m.valid_from AND s.occurred_at < coalesce(m.valid_until, 'infinity')
        ORDER BY s.external_id COLLATE "C"
    ) sorted
),
recorded AS (
    INSERT INTO {_TRANSACTIONS} (
        id, idempotency_key, kind, reason_code, reason_params, actor, merchant_ref,
        earn_rule_id, tier_multiplier_id, request_hash, occurred_at, created_at)
    SELECT transaction_id, idempotency_key, '{TransactionKind.EARN.value}', 'purchase',
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
""",  # nosec B608  # model names and constants only; values are bound parameters
    replaces=EARN,
)

EARN_POSTINGS = Statement(
    f"""
INSERT INTO {Posting._meta.db_table} (transaction_id, account_id, amount)
SELECT transaction_id, account_id, points FROM points_earn_earned
UNION ALL
SELECT transaction_id, %(merchant_account)s, -points FROM points_earn_earned
""",  # nosec B608  # model names and constants only; values are bound parameters
    replaces=EARN,
)

_LOTS = PointsLot._meta.db_table
EARN_CREDIT_LOTS = Statement(
    f"""
INSERT INTO {_LOTS} (account_id, earned_on, expires_on, points, remaining)
SELECT account_id, earned_on, (earned_on + make_interval(months => %(months)s))::date,
       sum(points), sum(points)
FROM points_earn_earned GROUP BY account_id, earned_on
ON CONFLICT (account_id, earned_on) DO UPDATE
SET points = {_LOTS}.points + excluded.points,
    remaining = {_LOTS}.remaining + excluded.remaining
""",  # nosec B608  # model names and constants only; values are bound parameters
    replaces=EARN,
)

EARN_CREDIT_BALANCES = Statement(
    f"""
WITH credits AS (
    SELECT account_id, sum(points)::bigint AS points FROM points_earn_earned GROUP BY account_id
    UNION ALL
    SELECT %(merchant_account)s, -coalesce(sum(points), 0)::bigint FROM points_earn_earned
)
UPDATE {_ACCOUNTS} a SET balance = a.balance + credits.points FROM credits WHERE a.id = credits.account_id
RETURNING credits.points
""",  # nosec B608  # model names and constants only; values are bound parameters
    replaces=EARN,
)


def earn_stage(cursor: CursorWrapper, purchases: Sequence["Purchase"]) -> str:
    """The batch's temporary tables, its purchases COPYed into the first; returns the name
    of the transactions' id sequence, for EARN_RATE_AND_RECORD."""
    # Resolved once: as an argument of each row's nextval() it would be looked up per row.
    cursor.execute(f"SELECT pg_get_serial_sequence('{_TRANSACTIONS}', 'id')")
    (transaction_ids,) = cursor.fetchone()
    # Memory for this transaction's sorts and hashes, so a large batch is not spilled to disk.
    cursor.execute("SET LOCAL work_mem = '256MB'")
    cursor.execute(_STAGE_TABLES)
    with cursor.cursor.copy(EARN_STAGE_PURCHASES.sql) as copy:
        copy.set_types(_STAGE_TYPES)
        for p in purchases:
            copy.write_row((p.external_id, p.member_id, str(p.amount), p.currency, p.occurred_at))
    return transaction_ids


def earn_stage_versions(
    cursor: CursorWrapper, rates: Sequence[Sequence[Any]], multipliers: Sequence[Sequence[Any]]
) -> None:
    """The earn rules' and the tier multipliers' versions: (currency or tier id, from, until
    or None, version id, rate or multiplier)."""
    cursor.executemany(EARN_STAGE_RATES.sql, rates)
    cursor.executemany(EARN_STAGE_MULTIPLIERS.sql, multipliers)


def earn_rate_and_record(cursor: CursorWrapper, params: dict[str, Any]) -> tuple[int, int, int]:
    """Open the wallets the batch needs and record its transactions: how many purchases
    found a wallet (a member), how many were earned before, how many earn nothing."""
    cursor.execute(EARN_OPEN_WALLETS.sql, params)
    cursor.execute(EARN_RATE_AND_RECORD.sql, params)
    rated, earned_before, unrated = cursor.fetchone()
    return rated, earned_before, unrated


def earn_unknown_member(cursor: CursorWrapper) -> int:
    cursor.execute(EARN_UNKNOWN_MEMBER.sql)
    return cursor.fetchone()[0]


def earn_post_and_credit(cursor: CursorWrapper, params: dict[str, Any]) -> int:
    """Post the recorded transactions and credit their lots and balances; the points
    credited to members' wallets."""
    cursor.execute(EARN_POSTINGS.sql, params)
    # Locked only now, for the lots and balances, so a member's claims wait the least.
    cursor.execute(EARN_LOCK_ACCOUNTS.sql, params)
    cursor.execute(EARN_CREDIT_LOTS.sql, params)
    cursor.execute(EARN_CREDIT_BALANCES.sql, params)
    return sum(points for (points,) in cursor.fetchall() if points > 0)


def earn_unstage(cursor: CursorWrapper) -> None:
    cursor.execute(_DROP_STAGE_TABLES)
