"""The set-based load of synthetic members (demo/sql.py, PostgreSQL only) writes the rows
the ORM's bulk_create path writes: users, members, standings, consents and their history."""

import random
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import is_password_usable
from django.db import transaction
from django.utils import timezone

from demo import sql
from demo.synthetic import _generate, _insert_batches, _insert_postgres
from loyalty.members.models import Consent, ConsentChange, Member
from loyalty.scoring.models import MemberStanding
from tests.support.sql import executed

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _values(model: Any, refs: set[str], ref_path: str, *dropped: str) -> dict[str, list[tuple[Any, ...]]]:
    """Each of `model`'s rows for the members `refs`, without ids a path draws, by member ref."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname not in {"id", *dropped}]
    found: dict[str, list[tuple[Any, ...]]] = {}
    for ref, *values in model.objects.filter(**{f"{ref_path}__in": refs}).values_list(ref_path, *names):
        found.setdefault(ref, []).append(tuple(values))
    return {ref: sorted(rows) for ref, rows in found.items()}


def _members(refs: set[str]) -> dict[str, Any]:
    users = {
        username: (is_password_usable(password), *rest)
        for username, password, *rest in get_user_model()
        .objects.filter(member__ref__in=refs)
        .values_list(
            "username",
            "password",  # each path hashes its own unusable password
            "email",
            "first_name",
            "last_name",
            "is_superuser",
            "is_staff",
            "is_active",
            "date_joined",
            "last_login",
        )
    }
    return {
        "users": users,
        "members": _values(Member, refs, "ref", "user_id"),
        "standings": _values(MemberStanding, refs, "member__ref", "member_id"),
        "consents": _values(Consent, refs, "member__ref", "member_id"),
        "consent history": _values(ConsentChange, refs, "member__ref", "member_id"),
    }


# SYNTHETIC_STAGE, SYNTHETIC_USERS_AND_MEMBERS, SYNTHETIC_STANDINGS, SYNTHETIC_CONSENTS and
# SYNTHETIC_CONSENT_CHANGES, together, against _insert_batches.
def test_the_set_based_load_writes_the_rows_the_orm_path_writes():
    with time_machine.travel(timezone.now(), tick=False):
        now = timezone.now()
        rows = list(_generate(60, random.Random(4)))
        refs = {row.ref for row in rows}
        loaded = []
        for insert in (_insert_postgres, _insert_batches):
            with transaction.atomic(), executed() as texts:
                insert(rows, now)
                loaded.append(_members(refs))
                transaction.set_rollback(True)
            if insert is _insert_postgres:
                fills = [
                    sql.SYNTHETIC_USERS_AND_MEMBERS,
                    sql.SYNTHETIC_STANDINGS,
                    sql.SYNTHETIC_CONSENTS,
                    sql.SYNTHETIC_CONSENT_CHANGES,
                ]
                assert all(fill.sql in texts for fill in fills)
                # SYNTHETIC_STAGE (COPY) runs on psycopg's own cursor, out of Django's sight:
                # every row the fills wrote came through it.
    set_based, orm = loaded

    assert set_based == orm
    assert len(orm["members"]) == len(orm["users"]) == len(orm["standings"]) == 60
    assert orm["consent history"], "some members should share or withdraw a dimension"
    assert any(len(changes) > len(orm["consents"][ref]) for ref, changes in orm["consent history"].items())
