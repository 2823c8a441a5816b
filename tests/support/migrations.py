"""Moving the test database's schema to a migration and back, for data-migration tests."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(*targets: tuple[str, str]) -> None:
    """Migrate to `targets` (`("app", "0003_name")`, ...), or to the latest of every app."""
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets or executor.loader.graph.leaf_nodes()))
