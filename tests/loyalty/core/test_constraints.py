"""Text columns of ours kept unique by a constraint (`unique_text`), with no index that
nothing uses."""

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, models
from django.utils import timezone

from loyalty.members.models import MemberPass
from tests.factories import MemberFactory


def _our_models() -> list[type[models.Model]]:
    return [
        model for model in apps.get_models() if model._meta.app_config.name.startswith(("loyalty.", "perks."))
    ]


@pytest.mark.postgres
@pytest.mark.django_db
def test_no_column_of_ours_has_an_index_for_like_patterns():
    """`unique=True` on a text field makes one on PostgreSQL; only a text primary key,
    which Django indexes so itself, may have one."""
    models_by_table = {model._meta.db_table: model for model in _our_models()}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes"
            " WHERE tablename = ANY(%s) AND indexdef LIKE %s",
            [list(models_by_table), "%pattern_ops%"],
        )
        found = cursor.fetchall()

    unused = [
        (table, index)
        for table, index, definition in found
        if f"({models_by_table[table]._meta.pk.column} " not in definition
    ]
    assert unused == [], "keep the column unique with unique_text() in Meta.constraints instead"


@pytest.mark.django_db
def test_a_unique_text_column_still_refuses_a_repeat():
    member, expires_at = MemberFactory.create(), timezone.now()
    MemberPass.objects.create(member=member, token_id="once", expires_at=expires_at)

    with pytest.raises(IntegrityError):
        MemberPass.objects.create(member=member, token_id="once", expires_at=expires_at)
