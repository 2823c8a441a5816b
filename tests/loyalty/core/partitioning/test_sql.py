"""KEYS_INSERT_NEW against its ORM form, keys_insert_new_one_by_one (get_or_create a key at a time)."""

import pytest
from django.db import transaction

from loyalty.core.partitioning import keys_insert_new, keys_insert_new_one_by_one, sql
from loyalty.scoring.models import EventKey
from tests.support.sql import executed, ran


@pytest.mark.django_db
def test_claiming_keys_stores_and_names_the_keys_the_orm_would():
    EventKey.objects.create(source="mch_a", external_id="e-002")
    keys = [("mch_a", f"e-{n:03}") for n in range(5)] + [("mch_b", "e-002"), ("mch_a", "e-004")]

    answers = []
    for claim in (keys_insert_new, keys_insert_new_one_by_one):
        with transaction.atomic(), executed() as texts:
            answers.append(
                (claim(EventKey, keys), sorted(EventKey.objects.values_list("source", "external_id")))
            )
            transaction.set_rollback(True)
        if claim is keys_insert_new:
            assert ran(sql.KEYS_INSERT_NEW, texts)
    (statement_new, statement_rows), (orm_new, orm_rows) = answers

    assert statement_new == orm_new == set(keys) - {("mch_a", "e-002")}
    assert statement_rows == orm_rows
