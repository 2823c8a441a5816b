"""The instructions the serving process spends on POST /api/v1/redemptions, against the
cheapest authenticated request, GET /api/v1/merchant (issue 6), counted by callgrind.

redeem_api measures rates, which move 20 to 40 % from one minute to the next on a shared
machine; a count of instructions is the same on every run of the same code (to 0.2 %), so
a change of a per cent shows. It counts one process only, the app as gunicorn serves it
(production settings, one thread, requests handed straight to the WSGI application):
Django, DRF, psycopg and our code. PostgreSQL's, Redis's and the kernel's work, which
redeem_api's rates include, are not in it; nor is the side-effect drain's wake-up, one
Celery message a process every half second, too rare to count (bench/support/instructions.py).

Each redemption uses a fresh single-use voucher with a fresh Idempotency-Key, as in
redeem_api; afterwards every one counted must have been a redemption, none a replay.
slowdown = instructions a redemption / instructions a GET /merchant.
"""

import json
import shutil
import subprocess  # nosec B404  # runs the benchmark's own commands
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

from bench.result import BenchResult
from bench.support.instructions import FLOOR, REDEMPTIONS
from bench.support.partner import bench_partner
from bench.support.redemptions import (
    check_redeemed,
    gold_members,
    redemption_perk,
    side_effects_parked,
    single_use_vouchers,
)
from bench.support.server import bench_database, served_environment

SCALE: dict[str, dict[str, Any]] = {
    "quick": {"requests": 50, "warmup": 40, "members": 500},
    "full": {"requests": 200, "warmup": 40, "members": 2_000},
}
DUMPS = (REDEMPTIONS, FLOOR)


def run(scale: str) -> BenchResult:
    config = SCALE[scale]
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("redeem_instructions counts with valgrind (Debian: apt-get install valgrind)")
    with bench_database() as database_url, tempfile.TemporaryDirectory() as work:
        partner = bench_partner()
        warmup, requests = config["warmup"], config["requests"]
        members = gold_members(config["members"])
        codes = single_use_vouchers(partner, redemption_perk(partner), members, warmup + requests)
        plan = Path(work) / "plan.json"
        plan.write_text(json.dumps({"key": partner.key, "warm": codes[:warmup], "counted": codes[warmup:]}))
        command = [
            *(valgrind, "--tool=callgrind", "--instr-atstart=no"),
            f"--callgrind-out-file={work}/callgrind.%p",
            *(sys.executable, "-m", "bench.support.instructions", str(plan)),
        ]
        with side_effects_parked() as parked:
            env = served_environment(database_url, extra_env=parked)
            done = subprocess.run(command, env=env, cwd=settings.BASE_DIR, capture_output=True, text=True)  # noqa: S603  # nosec B603  # a fixed command of ours, no shell
        if done.returncode != 0:
            raise RuntimeError(f"the counted process failed:\n{done.stderr[-3000:]}")
        counted = _dumped(Path(work))
        check_redeemed(partner, redeemed=warmup + requests)
    per_redemption, per_floor = counted[REDEMPTIONS] / requests, counted[FLOOR] / requests
    return BenchResult(
        name="redeem_instructions",
        metric="instructions the serving process spends on a POST /api/v1/redemptions (callgrind)",
        value=per_redemption / 1e6,
        unit="M instructions",
        floor=per_floor / 1e6,
        slowdown=per_redemption / per_floor,
        scale=config,
        notes=(
            f"{requests} redemptions after {warmup} to warm up, each a fresh voucher and Idempotency-Key; "
            f"floor: as many GET /api/v1/merchant. Our process only, not PostgreSQL's or Redis's work."
        ),
    )


def _dumped(work: Path) -> dict[str, int]:
    """Instructions by dump, from callgrind's files (`desc: Trigger: dump <name>`, `totals:`)."""
    counted: dict[str, int] = {}
    for path in work.glob("callgrind.*"):
        trigger = totals = None
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("desc: Trigger: dump "):
                trigger = line.removeprefix("desc: Trigger: dump ").strip()
            elif line.startswith("totals:"):
                totals = int(line.split()[1])
        if trigger in DUMPS and totals is not None:
            counted[trigger] = totals
    missing = set(DUMPS) - set(counted)
    if missing:
        raise RuntimeError(f"callgrind wrote no count for {', '.join(sorted(missing))}")
    return counted
