"""What PostgreSQL itself refuses, whatever the Python code does."""

import pytest
from django.db import DatabaseError, IntegrityError, connection
from django.db.transaction import atomic

from loyalty.points.models import PlatformAccount, PointsTransaction, Posting, TransactionKind
from loyalty.points.services import platform_account, wallet_for_member
from tests.factories import MemberFactory
from tests.loyalty.points.ledger_checks import earn

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RAW_TRANSACTION = """
INSERT INTO points_pointstransaction (idempotency_key, kind, reason_code, reason_params, actor,
    merchant_ref, request_hash, occurred_at, created_at)
VALUES (%s, 'adjust', 'adjustment', '{"note": "raw"}', 'test', '', '', now(), now())
RETURNING id
"""
RAW_POSTING = "INSERT INTO points_posting (transaction_id, account_id, amount) VALUES (%s, %s, %s)"


@atomic
def commit_raw(key, lines, transaction_id=None):
    """Insert a transaction (unless one is named) and its postings with plain SQL, and commit."""
    with connection.cursor() as cursor:
        if transaction_id is None:
            cursor.execute(RAW_TRANSACTION, [key])
            transaction_id = cursor.fetchone()[0]
        # Each statement succeeds on its own: only the commit can tell a transaction is unbalanced.
        cursor.executemany(RAW_POSTING, [(transaction_id, account, amount) for account, amount in lines])
    return transaction_id


@pytest.fixture
def accounts():
    member = MemberFactory.create()
    return wallet_for_member(member_id=member.pk).pk, platform_account(platform=PlatformAccount.ISSUANCE).pk


def test_a_raw_unbalanced_insert_is_rejected_at_commit(accounts):
    wallet, issuance = accounts

    with pytest.raises(IntegrityError, match="does not balance"):
        commit_raw("raw-unbalanced", [(wallet, 100), (issuance, -99)])

    assert not PointsTransaction.objects.filter(idempotency_key="raw-unbalanced").exists()


def test_a_raw_lone_posting_is_rejected_at_commit(accounts):
    wallet, _ = accounts

    with pytest.raises(IntegrityError, match="does not balance"):
        commit_raw("raw-lone", [(wallet, 5)])


def test_a_posting_added_later_to_a_balanced_transaction_is_rejected(accounts):
    wallet, issuance = accounts
    balanced = commit_raw("raw-balanced", [(wallet, 5), (issuance, -5)])

    with pytest.raises(IntegrityError, match="does not balance"):
        commit_raw("", [(wallet, 1)], transaction_id=balanced)


def test_a_posting_to_an_account_that_does_not_exist_is_rejected_at_commit(accounts):
    wallet, _ = accounts

    with pytest.raises(IntegrityError, match="does not exist"):
        commit_raw("raw-dangling", [(wallet, 5), (wallet + 10_000, -5)])


def test_a_balanced_raw_insert_commits(accounts):
    wallet, issuance = accounts

    committed = commit_raw("raw-ok", [(wallet, 5), (issuance, -5)])

    assert Posting.objects.filter(transaction_id=committed).count() == 2


@pytest.mark.parametrize(
    "change",
    [
        lambda earned: Posting.objects.filter(transaction=earned).update(amount=11),
        lambda earned: Posting.objects.filter(transaction=earned).delete(),
        lambda earned: PointsTransaction.objects.filter(pk=earned.pk).update(actor="someone else"),
    ],
    ids=["update-posting", "delete-posting", "update-transaction"],
)
def test_postings_and_transactions_can_be_neither_updated_nor_deleted(change):
    member = MemberFactory.create()
    earn(member.pk, 10)
    earned = PointsTransaction.objects.get(kind=TransactionKind.EARN)

    with pytest.raises(DatabaseError, match="append-only"):
        change(earned)


def test_a_posting_cannot_choose_its_own_id(accounts):
    wallet, issuance = accounts
    transaction_id = commit_raw("raw-ids", [(wallet, 5), (issuance, -5)])

    with pytest.raises(DatabaseError, match="GENERATED ALWAYS"), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO points_posting (id, transaction_id, account_id, amount) VALUES (1, %s, %s, 1)",
            [transaction_id, wallet],
        )
