import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.seed import database_is_empty, seed
from demo.synthetic import synthetic_members_add

SYNTHETIC_LISTED = 100  # the synthetic members' refs the manifest lists, as the contract says


class Command(BaseCommand):
    help = "Fill an empty database with a realistic demo and write its logins to --output."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True, type=Path, help="where to write the JSON manifest")
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="the base_url_hint written to the manifest"
        )
        parser.add_argument(
            "--reuse",
            action="store_true",
            help="if the database already holds a demo, print the logins from --output and change nothing",
        )
        parser.add_argument(
            "--members",
            type=int,
            default=0,
            metavar="N",
            help=(
                "also add N synthetic members spread over the tiers, linked to no merchant, for load "
                "tests (the manifest lists up to 100 of their refs under synthetic)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        output: Path = options["output"]
        if not database_is_empty():
            if options["reuse"] and output.exists():
                self._print_logins(json.loads(output.read_text()), reused=True)
                return
            raise CommandError("The database is not empty: seed_demo only fills an empty one.")
        if options["members"] < 0:
            raise CommandError("--members takes a number of members, 0 or more.")
        manifest = seed(base_url_hint=options["base_url"]).as_dict()
        output.parent.mkdir(parents=True, exist_ok=True)
        self._write(output, manifest)
        self._print_logins(manifest, reused=False)
        if options["members"]:
            started = time.perf_counter()
            refs = synthetic_members_add(count=options["members"])
            self.stdout.write(
                f"Added {len(refs)} synthetic members in {time.perf_counter() - started:.1f} s."
            )
            # Written again with a sample of their refs, as the contract's demo data says.
            self._write(output, {**manifest, "synthetic": refs[:SYNTHETIC_LISTED]})

    def _write(self, output: Path, manifest: dict[str, Any]) -> None:
        output.write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        output.chmod(0o600)

    def _print_logins(self, manifest: dict[str, Any], *, reused: bool) -> None:
        write = self.stdout.write
        write(self.style.MIGRATE_HEADING("Demo logins" + (" (kept from the last run)" if reused else "")))
        operator = manifest["operator"]
        write(f"  operator   {operator['email']}  {operator['password']}")
        for merchant in manifest["merchants"]:
            write(f"  merchant   {merchant['name']} ({merchant['category']})  api key {merchant['api_key']}")
            for staff in merchant["staff"]:
                write(f"    {staff['role']:<9}{staff['email']}  {staff['password']}")
        for member in manifest["members"]:
            tier = f"{member['tier']} ({member['score']})"
            write(f"  member     {member['email']}  {member['password']}  {tier}")
