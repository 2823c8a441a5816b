"""The capacity model (demo/capacity.py): its arithmetic against hand-computed cases, the
command on a folder of fixture benchmark files, and docs/scaling.md against its inputs."""

import json
import re
import subprocess  # nosec B404  # runs manage.py, to see the exit status an operator sees
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from demo.capacity.model import (
    MissingFigure,
    capacity_model,
    cores_for,
    instances_for,
    per_core,
    rate_over,
    worker_nodes,
)
from demo.capacity.row_sizes import row_sizes_measure
from tests.conftest import ON_POSTGRES
from tests.factories.members import MemberFactory

DOC = Path(settings.BASE_DIR) / "docs" / "scaling.md"
DOC_INPUTS = Path(settings.BASE_DIR) / "docs" / "scaling-inputs.json"


def fixture_inputs() -> dict[str, Any]:
    """Round figures, so every result below can be worked by hand."""
    return {
        "redeem_api": {"name": "redeem_api", "value": 300, "figures": {"whole_rps": 200}},
        "api_merchant": {"name": "api_merchant", "value": 1600},
        "campaign_issue": {
            "value": 10.0,
            "scale": {"scale": "quick", "vouchers": 100_000, "chunk_size": 10_000},
        },
        "score_recompute": {"value": 20, "scale": {"members": 100_000, "standings_changed": 90_000}},
        "points_earn": {"value": 5, "scale": {"scale": "quick", "purchases": 10_000, "postings": 20_000}},
        "redemption_side_effects": {
            "value": 4,
            "scale": {
                "scale": "quick",
                "redemptions": 10_000,
                "webhook_tasks_queued": 50,
                "rows": {"vouchers_usagerecord": 10_000, "merchants_webhookdelivery": 15_000},
            },
        },
        "row_sizes": {
            "machine": {"cores": 2},
            "database": {"name": "rows"},
            "tables": {
                table: {"rows": 1000, "bytes_per_row": size}
                for table, size in {
                    "scoring_scoreevent": 300,
                    "scoring_eventkey": 100,
                    "scoring_scoresnapshot": 200,
                    "points_posting": 150,
                    "vouchers_voucher": 300,
                    "vouchers_redemption": 800,
                    "vouchers_usagerecord": 200,
                    "merchants_webhookdelivery": 300,
                }.items()
            },
        },
    }


def write_folder(folder: Path, inputs: dict[str, Any]) -> Path:
    for name, content in inputs.items():
        (folder / f"{name}.json").write_text(json.dumps(content))
    return folder


def test_per_core_divides_by_the_cores_measured_on() -> None:
    assert per_core(300, 2) == 150


def test_cores_for_charges_the_share_at_the_target_utilisation_rounding_up() -> None:
    # 50,000 x 0.5 / (150 x 0.6) = 277.8
    assert cores_for(50_000, 150, share=0.5, utilisation=0.6) == 278
    assert cores_for(90, 150, share=1, utilisation=0.6) == 1


def test_rate_over_a_window() -> None:
    assert rate_over(500_000_000, 4 * 3600) == pytest.approx(34_722.22, abs=0.01)


def test_worker_nodes_are_the_larger_of_cores_and_storage_times_copies() -> None:
    # cores: 100 / 16 = 6.25 -> 7; storage: 10 TB / 4 TB = 2.5 -> 3
    assert worker_nodes(
        cores=100, stored_bytes=10e12, cores_per_node=16, bytes_per_node=4e12, replication=2
    ) == (
        7,
        14,
    )
    # storage: 30 / 4 = 7.5 -> 8
    assert worker_nodes(
        cores=10, stored_bytes=30e12, cores_per_node=16, bytes_per_node=4e12, replication=3
    ) == (
        8,
        24,
    )


def test_instances_for_keeps_a_minimum() -> None:
    assert instances_for(100_000, 100_000, utilisation=0.6) == 2
    assert instances_for(250, 10_000, utilisation=0.6, minimum=3) == 3


def test_the_model_from_fixture_figures_matches_the_hand_computed_results() -> None:
    model = capacity_model(fixture_inputs())

    results = {line.what: line.value for line in model.results}
    # per core (2 cores): request path 150, whole 100, GETs 800, drain 1,250, recompute 2,500,
    # purchases 1,000, vouchers 5,000 a second.
    assert [round(line.value) for line in model.rates] == [150, 100, 800, 1250, 5000, 2500, 1000]
    # web: 25,000 / 90 -> 278, plus GETs 25,000 / 480 -> 53
    assert results["web cores"] == 331
    # workers: side effects 25,000 / 750 -> 34 at peak against the night's 12 + 4 + 6
    assert results["worker cores"] == 34
    assert results["check: web and worker cores for redemptions from the whole"] == 417
    # database: 25,000 / 60 -> 417 for redemptions, 53 for GETs
    assert results["database cores"] == 470
    # a month: events 0.6 TB and their keys 0.2, snapshots 13.5 G rows x 200 = 2.7 TB, postings
    # 0.6, vouchers 0.15, redemptions 1.6, usage 0.4, deliveries 0.9
    assert results["storage a month"] == pytest.approx(7.15)
    assert results["storage retained"] == pytest.approx(171.6)
    # primaries: max(470 / 16 -> 30, 171.6 / 4 -> 43) = 43, two copies
    assert results["Citus worker nodes"] == 86
    # 150,000 transactions a second / (20,000 x 0.6) -> 13
    assert results["PgBouncer processes"] == 13
    assert results["Redis instances"] == 2
    assert results["RabbitMQ nodes"] == 3
    assert {line.table: line.rows_month for line in model.storage}["merchants_webhookdelivery"] == 3e9


def test_a_figure_missing_from_a_file_is_named() -> None:
    inputs = fixture_inputs()
    del inputs["redeem_api"]["figures"]

    with pytest.raises(MissingFigure, match=r"redeem_api.json has no figures.whole_rps"):
        capacity_model(inputs)


def test_a_row_size_missing_is_named() -> None:
    inputs = fixture_inputs()
    del inputs["row_sizes"]["tables"]["vouchers_redemption"]

    with pytest.raises(
        MissingFigure, match=r"row_sizes.json has no tables.vouchers_redemption.bytes_per_row"
    ):
        capacity_model(inputs)


def test_the_command_prints_the_model_from_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("capacity", str(write_folder(tmp_path, fixture_inputs())))

    out = capsys.readouterr().out
    assert "| web cores | 331 |" in out
    assert "| Citus worker nodes | 86 |" in out
    assert "redeem_api.json `figures.whole_rps` / row_sizes.json `machine.cores`" in out


def test_the_command_saves_the_inputs_it_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "bench"
    folder.mkdir()
    write_folder(folder, fixture_inputs())
    saved = tmp_path / "inputs.json"

    call_command("capacity", str(folder), save_inputs=saved)
    from_folder = capsys.readouterr().out
    call_command("capacity", str(saved))

    assert json.loads(saved.read_text()) == fixture_inputs()
    assert capsys.readouterr().out == from_folder


def test_the_command_names_a_missing_benchmark_and_fails(tmp_path: Path) -> None:
    inputs = fixture_inputs()
    del inputs["campaign_issue"], inputs["row_sizes"]
    write_folder(tmp_path, inputs)

    with pytest.raises(CommandError, match=r"campaign_issue.json, row_sizes.json"):
        call_command("capacity", str(tmp_path))

    run = subprocess.run(  # noqa: S603  # nosec B603  # our own manage.py, arguments of this test
        [sys.executable, "manage.py", "capacity", str(tmp_path)],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode != 0
    assert "campaign_issue.json" in run.stderr
    assert run.stdout == ""


def test_the_scaling_doc_shows_the_commands_output_for_its_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("capacity", str(DOC_INPUTS))

    block = re.search(r"<!-- capacity:begin -->\n(.*?)<!-- capacity:end -->", DOC.read_text(), re.DOTALL)
    assert block is not None
    assert block.group(1) == capsys.readouterr().out


@pytest.mark.skipif(ON_POSTGRES, reason="on PostgreSQL the measurement runs (the next test)")
def test_row_sizes_are_postgresql_only() -> None:
    with pytest.raises(RuntimeError, match="PostgreSQL"):
        row_sizes_measure()


@pytest.mark.postgres
@pytest.mark.django_db
def test_row_sizes_are_a_tables_bytes_on_disk_over_its_rows() -> None:
    MemberFactory.create_batch(50)

    measured = row_sizes_measure()

    member = measured["tables"]["members_member"]
    assert member["rows"] == 50
    assert member["total_bytes"] >= 8192  # at least a page of heap
    assert member["bytes_per_row"] == round(member["total_bytes"] / 50, 1)
    assert 0 < member["heap_row_bytes"] < member["bytes_per_row"]
    assert "scoring_scoreevent" not in measured["tables"]  # no rows, nothing to weigh
    assert measured["machine"]["cores"] >= 1
