"""Written-out statements read and write rows as the ORM would, on SQLite and PostgreSQL."""

# ruff: noqa: S608 (the statements are built from the models' names)

from datetime import timedelta

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from loyalty.core.sql import Columns, column_value, prepared_cursor, row_insert, row_insert_after
from loyalty.members.models import LookupPurpose, Member, MemberLookup
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

LOOKUP = Columns(MemberLookup, "l")
MEMBER = Columns(Member, "m")


def _lookup(member: Member) -> MemberLookup:
    return MemberLookup(
        member=member, merchant_ref="mch_1", merchant_name="Café", purpose=LookupPurpose.VOUCHER
    )


def test_an_inserted_row_reads_back_equal_through_the_orm_and_through_columns():
    member = MemberFactory.create()
    at = timezone.now() - timedelta(days=3)
    lookup = _lookup(member)
    lookup.looked_up_at = at

    row_insert(lookup)

    assert lookup.pk is not None
    assert not lookup._state.adding
    stored = MemberLookup.objects.get(pk=lookup.pk)
    assert (stored.member_id, stored.merchant_name, stored.looked_up_at) == (member.pk, "Café", at)
    with prepared_cursor() as cursor:
        cursor.execute(
            f"SELECT {LOOKUP.select()}, {MEMBER.select()} FROM {LOOKUP.table}"
            f" JOIN {MEMBER.table} ON {MEMBER.col('id')} = {LOOKUP.col('member')}"
            f" WHERE {LOOKUP.col('id')} = %s",
            [lookup.pk],
        )
        row = cursor.fetchone()
    read = LOOKUP.instance(row)
    joined = MEMBER.instance(row, len(LOOKUP))
    assert read is not None
    assert joined is not None
    assert (read.pk, read.looked_up_at, read.purpose) == (lookup.pk, at, LookupPurpose.VOUCHER)
    assert timezone.is_aware(read.looked_up_at)  # converted as the ORM converts, SQLite included
    assert (joined.pk, joined.ref, joined.joined_at) == (member.pk, member.ref, member.joined_at)


def test_an_outer_join_that_found_nothing_reads_as_none():
    member = MemberFactory.create()
    with prepared_cursor() as cursor:
        cursor.execute(
            f"SELECT {LOOKUP.select()} FROM {MEMBER.table}"
            f" LEFT JOIN {LOOKUP.table} ON {LOOKUP.col('member')} = {MEMBER.col('id')}"
            f" WHERE {MEMBER.col('id')} = %s",
            [member.pk],
        )
        assert LOOKUP.instance(cursor.fetchone()) is None


def test_an_aggregate_is_converted_as_its_column():
    member = MemberFactory.create()
    row_insert(_lookup(member))
    with prepared_cursor() as cursor:
        cursor.execute(f"SELECT MAX(looked_up_at) FROM {MemberLookup._meta.db_table}")
        (latest,) = cursor.fetchone()

    assert (
        column_value(MemberLookup._meta.get_field("looked_up_at"), latest)
        == MemberLookup.objects.get().looked_up_at
    )


@pytest.mark.parametrize("changed", [True, False])
def test_a_row_is_inserted_after_a_statement_only_when_it_changed_a_row(changed):
    member = MemberFactory.create(display_name="Before")
    statement = (
        f"UPDATE {Member._meta.db_table} SET display_name = %s"
        " WHERE id = %s AND display_name = %s RETURNING id"
    )
    lookup = _lookup(member)

    inserted = row_insert_after(
        lookup, statement=statement, params=["After", member.pk, "Before" if changed else "Someone else"]
    )

    assert inserted is changed
    assert MemberLookup.objects.filter(member=member).exists() is changed
    assert (lookup.pk is not None) is changed
    member.refresh_from_db()
    assert member.display_name == ("After" if changed else "Before")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_database_dropped_between_requests_is_replaced_not_failed_on():
    with prepared_cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (dropped,) = cursor.fetchone()
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [dropped])
    close_old_connections()  # the end of a request, as the WSGI handler does it

    with prepared_cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (serving,) = cursor.fetchone()

    assert serving != dropped
