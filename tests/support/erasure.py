"""Looking for a person in the whole database, and photographing it, for erasure tests."""

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.contrib.auth.models import User
from django.db import connection, models
from django.db.models.functions import Cast

from loyalty.core.crypto import EncryptedTextField

TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)  # EmailField is a CharField


def tables() -> list[type[models.Model]]:
    """Every model with a table of its own in the database (an app whose migration is yet to
    be written has none, and holds nobody)."""
    existing = set(connection.introspection.table_names())
    return [
        model for model in apps.get_models() if not model._meta.proxy and model._meta.db_table in existing
    ]


def text_columns() -> list[tuple[type[models.Model], Any]]:
    """Every concrete text and JSON column of every table a model maps, auth_user included."""
    columns = [
        (model, field)
        for model in tables()
        for field in model._meta.concrete_fields
        if isinstance(field, TEXT_FIELDS)
    ]
    assert any(model is User and field.name == "email" for model, field in columns)
    return columns


def personal_data_found(values: Iterable[str]) -> list[str]:
    """Where any of `values` appears, case-insensitively, as `table.column: value`."""
    values = list(values)
    found = []
    for model, field in text_columns():
        rows = model._base_manager.all()
        column = field.name
        if isinstance(field, EncryptedTextField):  # the database sees only ciphertext: read it here
            plain = [text.casefold() for text in rows.values_list(column, flat=True) if text]
            found += [
                f"{model._meta.db_table}.{field.column}: {value}"
                for value in values
                if any(value.casefold() in text for text in plain)
            ]
            continue
        if isinstance(field, models.JSONField):
            rows = rows.annotate(_as_text=Cast(field.name, models.TextField()))
            column = "_as_text"
        for value in values:
            if rows.filter(**{f"{column}__icontains": value}).exists():
                found.append(f"{model._meta.db_table}.{field.column}: {value}")
    return found


def all_rows() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table a model maps, in key order: what a run that changes nothing
    leaves exactly as it was."""
    return {model._meta.db_table: list(model._base_manager.order_by("pk").values()) for model in tables()}
