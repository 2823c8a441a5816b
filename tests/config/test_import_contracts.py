"""The import contracts in pyproject.toml hold today, and each one fails on the wrong import
it exists to stop: the code is copied aside, one bad import planted, and lint-imports run."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = {
    c["id"]: c["name"]
    for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
}
# A module planted in the copy, and the contract its import must break.
PLANTED = {
    "layers": ("loyalty/points/planted.py", "import surfaces.api.urls"),
    "surfaces": ("surfaces/app/planted.py", "import surfaces.portal.views"),
    "kernel": ("loyalty/core/planted.py", "import loyalty.members.models"),
    "members": ("loyalty/members/planted.py", "import loyalty.scoring.models"),
}


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("house")
    for package in ("config", "surfaces", "perks", "loyalty"):
        shutil.copytree(
            ROOT / package, where / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    shutil.copy(ROOT / "pyproject.toml", where)
    return where


def lint_imports(where: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"]
    return subprocess.run(  # noqa: S603 (our own argv)
        command, cwd=where, env={"PYTHONPATH": str(where)}, capture_output=True, text=True, timeout=120
    )


def test_every_contract_is_planted_for():
    assert set(PLANTED) == set(CONTRACTS)


def test_the_house_keeps_every_contract(copy):
    result = lint_imports(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


@pytest.mark.parametrize("contract", sorted(PLANTED))
def test_a_wrong_import_breaks_its_contract(copy, contract):
    path, line = PLANTED[contract]
    planted = copy / path
    planted.write_text(line + "\n")
    try:
        result = lint_imports(copy)
    finally:
        planted.unlink()
    assert result.returncode == 1, result.stdout
    assert f"{CONTRACTS[contract]} BROKEN" in result.stdout
    assert f"Contracts: {len(CONTRACTS) - 1} kept, 1 broken." in result.stdout
