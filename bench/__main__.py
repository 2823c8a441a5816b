"""`python -m bench [NAME] --scale quick|full`: run benchmarks, write var/bench/<name>.json.

A benchmark is a module `bench/<name>.py` with `run(scale: str) -> BenchResult`.
"""

import argparse
import importlib
import os
import pkgutil
import sys
from pathlib import Path

import django


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name for m in pkgutil.iter_modules([str(here)]) if m.name not in {"__main__", "result", "support"}
    )


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from bench.result import SCALES

    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("name", nargs="?", help=f"one of: {', '.join(available()) or '(none yet)'}")
    parser.add_argument("--scale", choices=SCALES, default="quick")
    args = parser.parse_args()

    names = [args.name] if args.name else available()
    if not names:
        print("No benchmarks yet.")
        return 0
    unknown = set(names) - set(available())
    if unknown:
        parser.error(f"no benchmark named {', '.join(sorted(unknown))}")
    for name in names:
        result = importlib.import_module(f"bench.{name}").run(args.scale)
        path = result.write()
        print(
            f"{name}: {result.value:.4g} {result.unit}, floor {result.floor:.4g}, "
            f"slowdown {result.slowdown:.2f} ({args.scale}) -> {path}"
        )
        for figure, value in result.figures.items():
            print(f"  {figure}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
