"""What PostgreSQL itself refuses, whatever the Python code does."""

import pytest
from django.db import DatabaseError, IntegrityError, connection
from django.db.transaction import atomic

from loyalty.points.models import PlatformAccount, PointsTransaction, Posting, TransactionKind
from loyalty.points.services import platform_account, wallet_for_member
from tests.factories import MemberFactory
from tests.loyalty.points.ledger_checks import earn

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def raw_transaction(key):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO points_pointstransaction (idempotency_key, kind, reason_code, reason_params, actor,"
            " merchant_ref, request_hash, occurred_at, created_at)"
            " VALUES (%s, 'adjust', 'adjustment', '{\"note\": \"raw\"}', 'test', '', '', now(), now()) RETURNING id",
            [key],
        )
        return cursor.fetchone()[0]


def raw_postings(rows):
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO points_posting (transaction_id, account_id, amount) VALUES (%s, %s, %s)", rows
        )


def accounts():
    member = MemberFactory()
    return wallet_for_member(member_id=member.pk).pk, platform_account(platform=PlatformAccount.ISSUANCE).pk


def test_a_raw_unbalanced_insert_is_accepted_by_the_statement_and_rejected_at_commit():
    wallet, issuance = accounts()

    with pytest.raises(IntegrityError, match="does not balance"):
        with atomic():
            tx = raw_transaction("raw-unbalanced")
            raw_postings([(tx, wallet, 100), (tx, issuance, -99)])  # the statement itself succeeds

    assert not PointsTransaction.objects.filter(idempotency_key="raw-unbalanced").exists()


def test_a_raw_lone_posting_is_rejected_at_commit():
    wallet, _ = accounts()

    with pytest.raises(IntegrityError, match="does not balance"):
        with atomic():
            raw_postings([(raw_transaction("raw-lone"), wallet, 5)])


def test_a_posting_added_later_to_a_balanced_transaction_is_rejected():
    wallet, issuance = accounts()
    with atomic():
        tx = raw_transaction("raw-balanced")
        raw_postings([(tx, wallet, 5), (tx, issuance, -5)])

    with pytest.raises(IntegrityError, match="does not balance"):
        with atomic():
            raw_postings([(tx, wallet, 1)])


def test_a_posting_to_an_account_that_does_not_exist_is_rejected_at_commit():
    wallet, _ = accounts()

    with pytest.raises(IntegrityError, match="does not exist"):
        with atomic():
            tx = raw_transaction("raw-dangling")
            raw_postings([(tx, wallet, 5), (tx, wallet + 10_000, -5)])


def test_a_balanced_raw_insert_commits():
    wallet, issuance = accounts()

    with atomic():
        tx = raw_transaction("raw-ok")
        raw_postings([(tx, wallet, 5), (tx, issuance, -5)])

    assert Posting.objects.filter(transaction_id=tx).count() == 2


def test_postings_and_transactions_can_be_neither_updated_nor_deleted():
    member = MemberFactory()
    earn(member.pk, 10)
    earned = PointsTransaction.objects.get(kind=TransactionKind.EARN)

    for change in (
        lambda: Posting.objects.filter(transaction=earned).update(amount=11),
        lambda: Posting.objects.filter(transaction=earned).delete(),
        lambda: PointsTransaction.objects.filter(pk=earned.pk).update(actor="someone else"),
    ):
        with pytest.raises(DatabaseError, match="append-only"), atomic():
            change()
