"""The train flow through Metaflow's Runner: registration, lineage, gates, resume, binary."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from shared.config import load_project
from shared.generator import generate_orders
from shared.ledger import Ledger
from tests.conftest import FAST_TRAINING, write_project
from tests.flows.helpers import INGEST, TRAIN, cli_run, run_flow

pytestmark = pytest.mark.slow


def ledger_of(project: Path) -> Ledger:
    return Ledger.open(load_project(project).storage.ledger_url)


def test_ingest_then_train_registers_a_candidate_with_lineage(tmp_path: Path) -> None:
    project = write_project(tmp_path, **FAST_TRAINING)
    _, status, _, _ = run_flow(INGEST, project, rows=5000)
    assert status == "successful"
    run, status, stdout, _ = run_flow(TRAIN, project)
    assert status == "successful", stdout
    ledger = ledger_of(project)
    versions = ledger.models()
    assert {m.family for m in versions} == {"baseline", "xgboost", "torch_mlp"}
    [cand] = [m for m in versions if m.status == "candidate"]
    assert cand.metrics["mae"] <= 0.95 * cand.baseline_metrics["mae"]
    for family in ("baseline", "xgboost", "torch_mlp"):
        assert family in stdout
    assert f"registered {cand.version}" in stdout
    # lineage: model -> run, code, config -> dataset -> raw source as it came
    lin = ledger.lineage(cand.version)
    [ds] = ledger.datasets()
    assert [d["version"] for d in lin.datasets] == [ds.version] == cand.datasets
    assert lin.datasets[0]["raw_source"] == ds.source
    assert Path(lin.datasets[0]["raw_uri"]).read_bytes() == Path(ds.source).read_bytes()
    assert cand.flow_run == run.pathspec and lin.flow_run["status"] == "succeeded"
    assert cand.git_commit and len(cand.git_commit) == 40 and cand.git_dirty is not None
    assert cand.config_hash == load_project(project).config_hash()
    assert cand.task_pathspec.startswith(run.pathspec + "/train/")
    assert cand.resources["device"] == "cpu" and cand.resources["fit_seconds"] > 0
    artifact = Path(cand.artifact_uri)
    assert (artifact / "model.json").exists() and (artifact / "meta.json").exists()
    assert ledger.verify_audit().ok
    # the CLI shows the same
    from click.testing import CliRunner

    from shared.cli import cli

    out = CliRunner().invoke(cli, ["--config", str(project), "lineage", cand.version])
    assert out.exit_code == 0 and ds.version in out.output and ds.source in out.output
    out = CliRunner().invoke(cli, ["--config", str(project), "models", "--json"])
    assert out.exit_code == 0 and '"status": "candidate"' in out.output


def test_failing_gates_register_no_candidate(tmp_path: Path) -> None:
    project = write_project(tmp_path, gates__min_improvement=0.95, **FAST_TRAINING)
    run_flow(INGEST, project, rows=3000)
    _, status, stdout, _ = run_flow(TRAIN, project)
    assert status == "successful"
    assert "nothing registered as candidate" in stdout
    versions = ledger_of(project).models()
    assert not [m for m in versions if m.status == "candidate"]
    for m in versions:
        if m.family != "baseline":
            assert m.status == "rejected" and "beats_baseline" in m.failing_gates


def test_resume_after_a_failed_step_registers_exactly_once(tmp_path: Path) -> None:
    project = write_project(tmp_path, **FAST_TRAINING)
    run_flow(INGEST, project, rows=3000)
    first, status, _, _ = run_flow(TRAIN, project, env={"RENKEI_INJECT_FAULT": "compare"})
    assert status == "failed"
    assert len(ledger_of(project).models()) == 3  # registered, then the step failed
    # resume reuses the frozen config of the original run
    p = cli_run(TRAIN, "resume", "--origin-run-id", first.id)
    assert p.returncode == 0, p.stdout + p.stderr
    versions = ledger_of(project).models()
    assert len(versions) == 3
    assert [m.status for m in versions].count("candidate") == 1


def test_train_without_data_is_a_clear_error(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    p = cli_run(TRAIN, "--config", "project", str(project), "run")
    assert p.returncode != 0
    assert "the ledger has no datasets" in p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr


def test_binary_project_end_to_end(tmp_path: Path) -> None:
    base = yaml.safe_load(Path("config/project.yaml").read_text())
    base.update(task="binary", target="late", target_range={})
    base["baseline"] = {"rule": "threshold", "params": {"feature": "distance_km", "above": 4.0}}
    base["training"].update(key_metric="roc_auc", slices=["rain", "zone"])
    benefit = {  # a binary project's costs, in its own terms
        "predictions_per_month": 100000,
        "value_per_true_positive": 5.0,
        "cost_per_false_positive": 1.0,
        "prevalence": 0.3,
    }
    (tmp_path / "costs.yaml").write_text(yaml.safe_dump({"benefit": benefit}))
    project = write_project(tmp_path, base=base, **FAST_TRAINING)
    g = generate_orders(4000, seed=5, bad_fraction=0.01)
    src = tmp_path / "late.csv"
    g.orders.assign(late=(g.labels["delivery_minutes"] > 30)).to_csv(src, index=False)
    _, status, _, _ = run_flow(INGEST, project, source=str(src))
    assert status == "successful"
    _, status, stdout, _ = run_flow(TRAIN, project)
    assert status == "successful", stdout
    versions = ledger_of(project).models()
    [cand] = [m for m in versions if m.status == "candidate"]
    assert cand.key_metric == "roc_auc" and cand.metrics["roc_auc"] > 0.8
    assert set(cand.metrics) == {"roc_auc", "log_loss", "precision", "recall"}
    assert pd.read_parquet(ledger_of(project).datasets()[0].location)["late"].dtype == bool


def test_code_package_contains_shared() -> None:
    p = cli_run(TRAIN, "package", "list")
    assert p.returncode == 0, p.stderr
    assert "shared/training.py" in p.stdout + p.stderr
