import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.capacity.row_sizes import row_sizes_fill, row_sizes_measure


class Command(BaseCommand):
    help = (
        "Measure the bytes a row of every table of this (filled, PostgreSQL) database and write them to "
        "var/bench/row_sizes.json for the capacity model."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", type=Path, help="default var/bench/row_sizes.json")
        parser.add_argument(
            "--fill",
            action="store_true",
            help="first fill this empty, migrated database with redemptions and their side effects, score "
            "events, standings, snapshots and postings (the benchmarks' builders)",
        )

    def handle(self, *args: object, **options: object) -> None:
        output = options["output"] or Path(settings.VAR_DIR) / "bench" / "row_sizes.json"
        assert isinstance(output, Path)
        try:
            if options["fill"]:
                self.stdout.write(f"filled: {row_sizes_fill()}")
            measured = row_sizes_measure()
        except RuntimeError as error:
            raise CommandError(str(error)) from error
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(measured, indent=2) + "\n")
        self.stdout.write(f"{len(measured['tables'])} tables measured -> {output}")
