"""The monitor flow through Metaflow's Runner: verdicts, retraining, no silent promotion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.model.families import ARTIFACT_FILES, load_model
from shared.training import load_artifacts
from tests.builders import build
from tests.flows.helpers import MONITOR, cli_run, run_flow
from tests.monitoring.helpers import release, score

pytestmark = pytest.mark.slow


def test_monitor_flow_detects_drift_and_retrains_without_promoting(tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1, rows=6000)
    [v] = t.candidates
    release(t, v)
    score(t, tmp_path, seed=51, drift=1.0)
    before = {m.version for m in t.ledger.registry.models()}
    run, status, stdout, stderr = run_flow(MONITOR, t.project_path, window=1)
    assert status == "successful", stdout + stderr
    [report] = t.ledger.monitoring.reports()
    assert report.retrain and report.flow_run == run.pathspec
    assert report.retrain_run and report.retrain_run.startswith("TrainFlow/")
    # the run Metaflow's Runner handed back is the one that trained: Metaflow has it,
    # finished, and the ledger recorded it succeeded
    from metaflow import Run, namespace

    namespace(None)
    assert Run(report.retrain_run).successful
    assert t.ledger.runs.get(report.retrain_run).status == "succeeded"
    assert "RETRAIN" in stdout and "nothing was promoted" in stdout
    new = [m for m in t.ledger.registry.models() if m.version not in before]
    assert {m.family for m in new} == {"baseline", "xgboost"}
    # the retraining run saw the project config as declared (feature order kept), so its
    # models load with the project config, as promotion and scoring will load them
    for m in new:
        load_model(load_artifacts(m.artifact_uri, ARTIFACT_FILES[m.family]), t.cfg)
    assert t.ledger.releases.alias("production").version == v  # no silent promotion
    actions = [e.action for e in t.ledger.audit.entries()]
    assert "monitoring.report" in actions and "retrain.triggered" in actions
    assert t.ledger.audit.verify().ok


def test_monitor_flow_without_drift_does_not_retrain(tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1, rows=6000)
    release(t, t.candidates[0])
    score(t, tmp_path, seed=52)
    _, status, stdout, _ = run_flow(MONITOR, t.project_path, window=1)
    assert status == "successful"
    [report] = t.ledger.monitoring.reports()
    assert not report.retrain and report.retrain_run is None
    assert "no retraining needed" in stdout


def test_monitor_flow_with_nothing_in_production_is_a_clear_error(tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    p = cli_run(MONITOR, "--config", "project", str(t.project_path), "run")
    assert p.returncode != 0 and "nothing is in production" in p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr


def test_a_retraining_run_that_fails_is_named_with_its_last_output(tmp_path: Path) -> None:
    """The monitor's local retraining through Metaflow's Runner: a run that fails (an empty
    ledger: nothing to train on) raises with the run's pathspec and its own error line."""
    from shared.config.project_set import project_set_from_text
    from shared.monitor.monitoring import MonitoringError
    from shared.monitor.retrain import start_training_run
    from tests.conftest import REPO, write_project

    project = write_project(tmp_path)
    frozen = project_set_from_text(project.read_text(), str(project)).frozen()
    with pytest.raises(MonitoringError) as e:
        start_training_run(frozen, str(REPO / "flows"))
    assert re.match(r"the retraining run TrainFlow/\d+ failed", str(e.value)), str(e.value)
    assert "the ledger has no datasets" in str(e.value)
