"""The ingest flow through Metaflow's Runner and its CLI, as a user runs it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shared.config import load_project
from shared.data.generator import generate_orders
from shared.ledger import Ledger
from tests.conftest import REPO, write_project
from tests.flows.helpers import INGEST, MONITOR, SCORE, TRAIN, cli_run, run_flow

pytestmark = pytest.mark.slow


def test_ingest_run_records_dataset_and_lineage(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    run, status, stdout, _ = run_flow(
        INGEST, project, env={"METAFLOW_USER": "mina"}, rows=3000, bad_fraction=0.02
    )
    assert status == "successful", stdout
    cfg = load_project(project)
    ledger = Ledger.open(cfg.storage.ledger_url)
    [ds] = ledger.datasets.all()
    assert ds.rows_in == 3000 and ds.rows_quarantined == 60 and ds.rows_valid == 2940
    assert ds.created_by == "mina" and ds.flow_run == run.pathspec
    assert pd.read_parquet(ds.location).shape[0] == 2940
    # the raw input is kept byte for byte
    assert Path(ds.raw_uri).read_bytes() == Path(ds.source).read_bytes()
    [fr] = ledger.runs.all()
    assert fr.pathspec == run.pathspec and fr.status == "succeeded"
    assert ledger.audit.verify().ok
    outcome = run["join"].task.data.outcome
    assert outcome.dataset_version == ds.version
    assert f"dataset {ds.version}" in stdout
    # same data again: same version, no duplicate dataset
    _, status, stdout, _ = run_flow(INGEST, project, source=ds.source)
    assert status == "successful"
    assert "same data as an existing version" in stdout
    assert len(ledger.datasets.all()) == 1 and len(ledger.datasets.reports()) == 2


def test_low_valid_fraction_fails_after_recording(tmp_path: Path) -> None:
    project = write_project(tmp_path, validation__min_valid_fraction=0.95)
    _, status, stdout, stderr = run_flow(INGEST, project, rows=500, bad_fraction=0.2)
    assert status == "failed"
    assert "under the minimum 95.0%" in stdout + stderr
    ledger = Ledger.open(load_project(project).storage.ledger_url)
    [report] = ledger.datasets.reports()
    assert report.passed is False and report.rows_quarantined == 100
    assert ledger.datasets.quarantine(report.dataset_version).rows_quarantined == 100
    assert ledger.runs.all()[0].status == "failed"


def test_missing_file_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    missing = tmp_path / "nope.csv"
    p = cli_run(INGEST, "--config", "project", str(project), "run", "--source", str(missing))
    out = p.stdout + p.stderr
    assert p.returncode != 0
    assert f"{missing}: file not found" in out
    assert "Traceback" not in out
    assert Ledger.open(load_project(project).storage.ledger_url).runs.all()[0].status == "failed"


def test_bad_config_fails_at_once_naming_file_and_field(tmp_path: Path) -> None:
    project = write_project(tmp_path, task="ranking")
    p = cli_run(INGEST, "--config", "project", str(project), "run")
    assert p.returncode != 0
    assert f"{project}: field 'task'" in p.stdout + p.stderr


def test_parquet_source(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    src = tmp_path / "orders.parquet"
    generate_orders(400, seed=3).orders.to_parquet(src)
    _, status, _, _ = run_flow(INGEST, project, source=str(src))
    assert status == "successful"
    [ds] = Ledger.open(load_project(project).storage.ledger_url).datasets.all()
    assert ds.rows_valid == 400


@pytest.mark.parametrize("flow", [INGEST, TRAIN, SCORE, MONITOR], ids=lambda f: Path(f).stem)
def test_code_package_contains_every_shared_subpackage(flow: str) -> None:
    p = cli_run(flow, "package", "list")
    assert p.returncode == 0, p.stderr
    listed = p.stdout + p.stderr
    subpackages = sorted(
        str(init.parent.relative_to(REPO)) for init in (REPO / "shared").rglob("__init__.py")
    )
    assert len(subpackages) > 8
    missing = [s for s in subpackages if f"{s}/__init__.py" not in listed]
    assert not missing, f"not in {Path(flow).name}'s code package: {missing}"
    assert "shared/ledger/migrations/versions/0001_backbone.py" in listed
