"""One project folder read by flows, CLI and monitor-triggered retraining; labels joined
within their own batch; minimum sample sizes; the generator only for the built-in case."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from shared.cli import cli
from shared.config import load_project
from shared.ledger import Ledger
from tests.builders import build
from tests.conftest import FAST_TRAINING, REPO, write_project
from tests.flows.helpers import INGEST, MONITOR, SCORE, TRAIN, cli_run, run_flow
from tests.monitoring.helpers import labels_frame, release, score

pytestmark = pytest.mark.slow


def ledger_of(project: Path) -> Ledger:
    return Ledger.open(load_project(project).storage.ledger_url)


def test_retraining_an_old_dataset_sees_only_the_labels_delivered_for_it(tmp_path: Path) -> None:
    """Issue 10, problem 9: the same generator seed twice reuses ids; a retrain of the first
    dataset must not take the second batch's labels."""
    families = ["baseline", "xgboost"]  # the baseline plus one learned family: fast
    project = write_project(tmp_path, **FAST_TRAINING, training__families=families)
    _, status, _, _ = run_flow(INGEST, project, rows=3000, seed=5)
    assert status == "successful"
    [old] = ledger_of(project).datasets.all()
    _, status, _, _ = run_flow(INGEST, project, rows=3000, seed=5, drift=1.0)  # same ids
    assert status == "successful"
    ledger = ledger_of(project)
    assert len(ledger.datasets.all()) == 2
    run, status, stdout, stderr = run_flow(TRAIN, project, datasets=old.version)
    assert status == "successful", stdout + stderr
    rows = run["start"].task.data.training_input.rows
    [batch] = [b for b in ledger.datasets.label_batches() if b.dataset_version == old.version]
    own = pd.read_parquet(batch.uri).set_index("order_id")["delivery_minutes"]
    assert len(rows) > 2500
    assert rows["delivery_minutes"].tolist() == own.loc[rows["order_id"]].tolist()


def test_monitoring_counts_each_label_for_the_scoring_batch_it_was_delivered_for(
    tmp_path: Path,
) -> None:
    """Issue 10, problem 9: two scoring batches with the same ids; 500 labels are 500
    labelled rows (not ~1,000), and --batch names the batch labels are for."""
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    release(t, t.candidates[0])
    g, first = score(t, tmp_path, seed=54, rows=1000)
    _, second = score(t, tmp_path, seed=54, rows=1000)  # the same ids again, a second batch
    lab = labels_frame(g)
    lab.iloc[:500].to_parquet(tmp_path / "late.parquet")
    lab.iloc[500:600].to_parquet(tmp_path / "early.parquet")
    base = ["--project", str(t.project_path), "feedback"]
    out = CliRunner().invoke(cli, [*base, str(tmp_path / "late.parquet"), "--as", "ren"])
    assert out.exit_code == 0 and "500 accepted" in out.output, out.output
    out = CliRunner().invoke(
        cli,
        [*base, str(tmp_path / "early.parquet"), "--as", "ren", "--batch", str(first.id)],
    )
    assert out.exit_code == 0 and "100 accepted" in out.output, out.output
    labelled = t.ledger.operations.labelled_rows()
    assert labelled.groupby("scoring_batch_id").size().to_dict() == {second.id: 500, first.id: 100}
    _, status, stdout, stderr = run_flow(MONITOR, t.project_path, window=2, retrain="none")
    assert status == "successful", stdout + stderr
    [report] = t.ledger.monitoring.reports()
    [perf] = [c for c in report.checks if c["name"] == "performance"]
    assert perf["verdict"] in ("ok", "alert"), perf
    counted = int(re.search(r"on ([\d,]+) labelled rows", perf["detail"])[1].replace(",", ""))
    assert 500 < counted <= 600  # rejected rows have no prediction to judge
    answered = sum(n for b in (first, second) for d, n in b.decisions.items() if d != "rejected")
    assert report.label_coverage == pytest.approx(counted / answered)


def test_monitor_flow_on_a_one_row_batch_says_not_enough_rows_and_does_not_retrain(
    tmp_path: Path,
) -> None:
    """Issue 10, problem 10: a one-row scoring batch used to alert on every feature and
    start a retrain."""
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    release(t, t.candidates[0])
    score(t, tmp_path, seed=53, drift=1.0, rows=1)
    _, status, stdout, stderr = run_flow(MONITOR, t.project_path, window=1)
    assert status == "successful", stdout + stderr
    [report] = t.ledger.monitoring.reports()
    assert not report.retrain and report.retrain_run is None
    verdicts = {c["name"]: c["verdict"] for c in report.checks}
    assert {n for n in verdicts if n.startswith("drift:")} == {f"drift:{f}" for f in t.cfg.features}
    assert set(verdicts.values()) <= {"not enough rows", "skipped"}
    assert verdicts["guard_rate"] == verdicts["drift:distance_km"] == "not enough rows"
    assert "not enough rows" in stdout and "no retraining needed" in stdout
    assert not [r for r in t.ledger.runs.all() if r.pathspec.startswith("TrainFlow/")][1:]


def test_monitor_triggered_retraining_uses_the_project_folders_rules(tmp_path: Path) -> None:
    """Issue 10, problem 3: the retrain started by the monitor flow reads the rules file
    of the project folder, not config/rules.yaml."""
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1, rows=6000)
    [v] = t.candidates
    release(t, v)
    rules = yaml.safe_load((REPO / "config" / "rules.yaml").read_text())
    rules["input"].append(  # this project's rules send almost every row to the fallback
        {
            "name": "tiny_baskets_only",
            "kind": "range",
            "column": "basket_size",
            "min": 1,
            "max": 1,
            "action": "fallback",
        }
    )
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    score(t, tmp_path, seed=51, drift=1.0)
    before = {m.version for m in t.ledger.registry.models()}
    _, status, stdout, stderr = run_flow(MONITOR, t.project_path, window=1)
    assert status == "successful", stdout + stderr
    [report] = t.ledger.monitoring.reports()
    assert report.retrain and report.retrain_run.startswith("TrainFlow/")
    new = [m for m in t.ledger.registry.models() if m.version not in before]
    assert new
    for m in new:
        assert m.resources["guard"]["intervention_rate"] > 0.5, m.resources["guard"]


def test_without_a_generator_ingest_and_score_ask_for_source(tmp_path: Path) -> None:
    """Issue 10, problem 7: the generator is the built-in ETA case's only; another project's
    ingest and score without --source stop with one line."""
    data = yaml.safe_load((REPO / "config" / "project.yaml").read_text())
    del data["generator"]
    project = write_project(tmp_path, base=data)
    for flow in (INGEST, SCORE):
        p = cli_run(flow, "--config", "project", str(project), "run")
        out = p.stdout + p.stderr
        assert p.returncode != 0
        assert "pass --source" in out and "Traceback" not in out
    assert not ledger_of(project).datasets.all()
