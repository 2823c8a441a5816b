"""The set-based earn (loyalty/points/sql.py, PostgreSQL only) writes the rows the plain
path writes purchase by purchase, and refuses what it refuses."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.transaction import atomic, set_rollback

from loyalty.core.errors import Invalid
from loyalty.points import sql
from loyalty.points.models import Account, PointsLot, PointsTransaction, Posting
from loyalty.points.services import merchant_account_for
from loyalty.points.services.earn import _earn_plain, _earn_set_based, _Merchant, _validated
from loyalty.scoring.models import MemberStanding, Tier
from tests.factories import MemberFactory, PurchaseFactory
from tests.loyalty.points.ledger_checks import TEST_MERCHANT, assert_ledger_consistent
from tests.support.sql import executed

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def stand(member, slug):
    tier = Tier.objects.get(slug=slug)
    MemberStanding.objects.create(member=member, score=tier.min_score, tier=tier)


def merchant() -> _Merchant:
    return _Merchant(
        ref=TEST_MERCHANT,
        name="Blue Bottle",
        category="hotel",
        account=merchant_account_for(merchant_ref=TEST_MERCHANT),
    )


def _ledger_rows():
    """Every row the earn wrote, named by what it means rather than by ids a rollback burns."""
    transactions = {t.pk: t for t in PointsTransaction.objects.all()}
    owners = {a.pk: (a.kind, a.member_id, a.merchant_ref, a.platform) for a in Account.objects.all()}
    postings = sorted(
        (transactions[p.transaction_id].idempotency_key, owners[p.account_id], p.amount)
        for p in Posting.objects.all()
    )
    described = sorted(
        (
            t.idempotency_key,
            t.kind,
            t.reason_code,
            tuple(sorted(t.reason_params.items())),
            t.actor,
            t.merchant_ref,
            t.earn_rule_id,
            t.tier_multiplier_id,
            t.request_hash,
            t.occurred_at,
        )
        for t in transactions.values()
    )
    lots = sorted(
        (owners[account_id], *rest)
        for account_id, *rest in PointsLot.objects.values_list(
            "account_id", "earned_on", "expires_on", "points", "remaining"
        )
    )
    return described, postings, lots


# Every step of the set-based path (EARN_STAGE_PURCHASES, EARN_STAGE_RATES,
# EARN_STAGE_MULTIPLIERS, EARN_OPEN_WALLETS, EARN_RATE_AND_RECORD, EARN_POSTINGS,
# EARN_LOCK_ACCOUNTS, EARN_CREDIT_LOTS, EARN_CREDIT_BALANCES), against _earn_plain.
def test_the_set_based_path_writes_the_same_rows_as_the_plain_path():
    members = MemberFactory.create_batch(4)
    stand(members[0], "diamond")
    stand(members[1], "silver")
    start = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
    purchases = [
        PurchaseFactory.build(
            member_id=members[i % 4].pk,
            amount=Decimal(f"{7 + i * 13 % 97}.{i % 100:02d}"),
            currency=["CNY", "USD", "JPY", "CHF"][i % 4],
            occurred_at=start + timedelta(hours=7 * i),
        )
        for i in range(60)
    ]
    unique, _ = _validated(purchases)
    outcomes = []
    for earn in (_earn_plain, _earn_set_based):
        with atomic(), executed() as texts:
            first = earn(merchant(), unique[:40])
            second = earn(merchant(), unique)  # 40 duplicates, 20 new
            connection.check_constraints()
            outcomes.append((first, second, _ledger_rows()))
            assert_ledger_consistent()
            set_rollback(True)
    plain, set_based = outcomes
    assert plain[0] == set_based[0]
    assert plain[1] == set_based[1]
    assert plain[2] == set_based[2]
    assert set_based[1].earned > 0
    steps = [
        sql.EARN_STAGE_RATES,
        sql.EARN_STAGE_MULTIPLIERS,
        sql.EARN_OPEN_WALLETS,
        sql.EARN_RATE_AND_RECORD,
        sql.EARN_POSTINGS,
        sql.EARN_LOCK_ACCOUNTS,
        sql.EARN_CREDIT_LOTS,
        sql.EARN_CREDIT_BALANCES,
    ]
    assert all(step.sql in texts for step in steps)
    # EARN_STAGE_PURCHASES runs on psycopg's own cursor (COPY), out of Django's sight: every
    # purchase the other steps rated came through it.


# EARN_UNKNOWN_MEMBER, against _unknown_member.
def test_both_paths_refuse_a_purchase_for_no_known_member_and_name_the_same_one():
    member = MemberFactory.create()
    purchases = [
        PurchaseFactory.build(member_id=member.pk),
        PurchaseFactory.build(member_id=member.pk + 1000),
        PurchaseFactory.build(member_id=member.pk),
    ]
    refusals = []
    for earn in (_earn_plain, _earn_set_based):
        with pytest.raises(Invalid) as refused, atomic(), executed() as texts:
            earn(merchant(), purchases)
        refusals.append((str(refused.value), refused.value.param))
    plain, set_based = refusals
    assert plain == set_based == (f"No member with id {member.pk + 1000}.", "member_id")
    assert sql.EARN_UNKNOWN_MEMBER.sql in texts
    assert not PointsTransaction.objects.exists()
