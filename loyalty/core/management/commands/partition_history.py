from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from loyalty.core.partitioning import default_rows, history_move, partitioned_tables


class Command(BaseCommand):
    help = (
        "Move the rows a database had before its history tables were partitioned out of each "
        "table's DEFAULT partition into monthly partitions, in committed batches; run it again "
        "to go on after a stop (docs/operations.md, Partitioned history)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--batch",
            type=int,
            default=1,
            help="months of rows moved per committed batch (pg_partman moves whole months)",
        )
        parser.add_argument("--max-batches", type=int, default=None, help="stop after this many batches")

    def handle(self, *args: Any, batch: int, max_batches: int | None, **options: Any) -> None:
        if batch < 1:
            raise CommandError("--batch is a number of months, 1 or more.")
        if not partitioned_tables():
            self.stdout.write("No partitioned tables here (SQLite, or not migrated yet): nothing to move.")
            return
        for moved in history_move(months=batch, max_batches=max_batches):
            self.stdout.write(
                f"{moved.table}: {moved.rows} rows moved, {moved.left} left in the default partition"
            )
        left = {table: rows for table, rows in default_rows().items() if rows}
        if left:
            self.stdout.write(f"Stopped with rows still to move: {left}. Run the command again to go on.")
        else:
            self.stdout.write("Every default partition is empty: each row is in its month.")
