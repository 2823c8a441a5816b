"""Public refs: unique by each model's constraint, with no index that nothing uses."""

from functools import partial

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, models

from loyalty.core.refs import new_ref
from loyalty.members.models import Member
from tests.factories import MemberFactory


def _models_with_a_ref() -> list[type[models.Model]]:
    return [
        model
        for model in apps.get_models()
        if any(
            field.name == "ref" and isinstance(field.default, partial) and field.default.func is new_ref
            for field in model._meta.concrete_fields
        )
    ]


def test_every_model_with_a_ref_keeps_it_unique_by_a_constraint():
    with_a_ref = _models_with_a_ref()

    assert Member in with_a_ref
    for model in with_a_ref:
        assert any(
            isinstance(constraint, models.UniqueConstraint)
            and list(constraint.fields) == ["ref"]
            and constraint.condition is None
            for constraint in model._meta.constraints
        ), f"{model.__name__}: add unique_text('ref') to Meta.constraints"


@pytest.mark.django_db
def test_a_ref_taken_is_refused_by_the_database():
    taken = MemberFactory.create()
    other = MemberFactory.create()
    other.ref = taken.ref

    with pytest.raises(IntegrityError):
        other.save(update_fields=["ref"])


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_ref_has_one_index_its_unique_one():
    tables = [model._meta.db_table for model in _models_with_a_ref()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexdef FROM pg_indexes WHERE tablename = ANY(%s) AND indexdef LIKE %s",
            [tables, "%(ref%"],
        )
        found = cursor.fetchall()

    assert sorted(table for table, _ in found) == sorted(tables)
    assert all(definition.startswith("CREATE UNIQUE INDEX") for _, definition in found), found
