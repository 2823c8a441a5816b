import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.capacity.model import (
    BENCHMARKS,
    MissingFigure,
    capacity_markdown,
    capacity_model,
    inputs_load,
    inputs_missing,
)


class Command(BaseCommand):
    help = (
        "Print the capacity model (docs/scaling.md) as Markdown from the benchmark figures in var/bench, "
        "or in the folder or inputs file given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "source",
            nargs="?",
            type=Path,
            help="a folder of <benchmark>.json files or one inputs file (docs/scaling-inputs.json); "
            "default var/bench",
        )
        parser.add_argument(
            "--save-inputs",
            type=Path,
            help="also write the figures read, by benchmark, to this one JSON file",
        )

    def handle(self, *args: object, **options: object) -> None:
        source = options["source"] or Path(settings.VAR_DIR) / "bench"
        assert isinstance(source, Path)
        if not source.exists():
            raise CommandError(f"{source} does not exist")
        inputs = inputs_load(source)
        missing = inputs_missing(inputs)
        if missing:
            raise CommandError(
                f"missing benchmark figures in {source}: {', '.join(f'{name}.json' for name in missing)} "
                "(make bench NAME=<name>; row_sizes.json: manage.py capacity_row_sizes)"
            )
        try:
            model = capacity_model(inputs)
        except MissingFigure as error:
            raise CommandError(f"{source}: {error}") from error
        save = options["save_inputs"]
        if isinstance(save, Path):
            save.write_text(json.dumps({name: inputs[name] for name in BENCHMARKS}, indent=2) + "\n")
        self.stdout.write(capacity_markdown(model), ending="")
