"""Where each query goes when a read replica is configured (DATABASE_REPLICA_URL): reads
marked lag-tolerant (loyalty.core.replica) to the replica, everything else to the primary.

Installed only with the replica, so without one no query pays for a router. Every unmarked
read names the primary outright rather than leaving Django to follow an instance's
database: a row read from the replica on a history page never drags a later read of its
relations there outside the mark.
"""

from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model

from loyalty.core.replica import REPLICA, replica_readable, write_noted


class ReplicaRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return REPLICA if replica_readable() else DEFAULT_DB_ALIAS

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        write_noted()
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        # One database, two doors: a row read from either relates to a row from the other.
        return True

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        # The replica replays the primary's schema; it is never migrated itself.
        return db == DEFAULT_DB_ALIAS
