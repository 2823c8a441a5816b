"""Constraints that more than one app's models share."""

from django.db import models


def unique_text(field: str) -> models.UniqueConstraint:
    """The constraint that keeps a text column unique, for its model's Meta.constraints.
    Not the field's `unique=True`: on PostgreSQL that also makes a second index, for LIKE
    patterns, which no look-up of ours uses (refs, keys and slugs are matched whole) and
    every insert pays for. A SlugField also needs `db_index=False`, or it keeps one."""
    return models.UniqueConstraint(fields=[field], name=f"%(app_label)s_%(class)s_{field}_unique")
