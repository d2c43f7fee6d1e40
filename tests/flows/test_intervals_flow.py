"""Intervals through the paths users run: the score flow and `renkei serve` answer with
intervals and the interval rule falls back; the monitor flow reports coverage and alerts
when labels stop falling inside the intervals."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from shared.cli import cli
from shared.config import load_project_set
from shared.data.generator import generate_orders
from shared.model.conformal import CALIBRATION_FILE, Calibration
from shared.operate.feedback import apply_feedback
from shared.operate.scoring import fresh_batch_start
from shared.reports import monitoring_views
from shared.training import load_optional
from tests.builders import build, release
from tests.conftest import stop_process, wait_for_http
from tests.flows.helpers import MONITOR, SCORE, run_flow
from tests.monitoring.helpers import labels_frame, score
from tests.service.test_http import ROW, start_service

pytestmark = pytest.mark.slow


def add_interval_rule(project: Path, max_width: float) -> None:
    path = project.parent / "rules.yaml"
    rules = yaml.safe_load(path.read_text())
    rules["input"].append(
        {"name": "too_unsure", "kind": "interval", "max_width": max_width, "action": "fallback"}
    )
    path.write_text(yaml.safe_dump(rules, sort_keys=False))


def test_score_flow_and_service_answer_with_intervals_and_the_rule_falls_back(
    tmp_path: Path,
) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    [v] = t.candidates
    model = t.ledger.registry.model(v)
    cal = Calibration.from_json(load_optional(model.artifact_uri, CALIBRATION_FILE) or b"")
    assert cal.coverage == 0.9
    g = generate_orders(
        900, seed=78, bad_fraction=0.0, start=fresh_batch_start(), days=1, id_prefix="i"
    )
    # the limit: the model's own 75th percentile width on this batch, so the rule fires
    # on about a quarter of the rows the model would answer
    widths = cal.width(pd.Series(load_alias_free_predictions(t, g.orders)).to_numpy())
    add_interval_rule(t.project_path, float(pd.Series(widths).quantile(0.75)))
    rules = load_project_set(t.project_path).rules
    release(t.ledger, t.roles, t.cfg, rules, v, "with the interval rule")
    src = tmp_path / "to_score.csv"
    g.orders.to_csv(src, index=False)
    _, status, stdout, _ = run_flow(SCORE, t.project_path, source=str(src))
    assert status == "successful", stdout
    [batch] = t.ledger.operations.scoring_batches()
    out = pd.read_parquet(batch.output_uri)
    answered = out["decision"] != "rejected"
    assert out.loc[answered, ["interval_low", "interval_high"]].notna().all().all()
    assert (out.loc[answered, "interval_low"] <= out.loc[answered, "prediction"]).all()
    assert (out.loc[answered, "prediction"] <= out.loc[answered, "interval_high"]).all()
    fired = out["reasons"].str.contains("too_unsure")
    assert 0.1 < fired.mean() < 0.5
    assert (out.loc[fired, "decision"] == "fallback").all()
    assert batch.decisions["fallback"] >= int(fired.sum())
    # `renkei scores`: the answers with their intervals, for people and as JSON
    renkei = ["--project", str(t.project_path), "scores", "--rows", "5"]
    shown = CliRunner().invoke(cli, renkei)
    assert shown.exit_code == 0 and "90% intervals" in shown.output, shown.output
    assert "interval_low" in shown.output and "interval_high" in shown.output
    records = json.loads(CliRunner().invoke(cli, [*renkei, "--json"]).output)
    assert len(records) == 5
    assert all(r["interval_low"] <= r["prediction"] <= r["interval_high"] for r in records)
    # the service: the same rule, the interval in every answer
    unsure = g.orders[fired.to_numpy()].iloc[0].to_dict()
    proc, base, _ = start_service(t.project_path)
    try:
        wait_for_http(f"{base}/health", proc)
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as c:
            got = c.post("/predict", json=[ROW, unsure]).json()["predictions"]
    finally:
        stop_process(proc)
    sure, wide = got
    assert sure["interval_low"] <= sure["prediction"] <= sure["interval_high"]
    assert wide["decision"] == "fallback" and "too_unsure" in wide["reasons"]
    assert wide["interval_low"] <= wide["prediction"] <= wide["interval_high"]


def load_alias_free_predictions(t, orders: pd.DataFrame):
    """The candidate's raw predictions for ``orders`` (before any release)."""
    from shared.model.families import ARTIFACT_FILES, load_model
    from shared.training import load_artifacts

    m = t.ledger.registry.model(t.candidates[0])
    return load_model(load_artifacts(m.artifact_uri, ARTIFACT_FILES[m.family]), t.cfg).predict(
        orders.assign(created_at=pd.to_datetime(orders["created_at"]))
    )


def test_monitor_flow_reports_coverage_and_alerts_when_it_drops(tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1, rows=6000)
    release(t.ledger, t.roles, t.cfg, t.rules, t.candidates[0])
    calm, _ = score(t, tmp_path, seed=61)
    apply_feedback(t.ledger, t.cfg, labels_frame(calm), "calm.csv", "ren", keys=t.keys)
    _, status, stdout, stderr = run_flow(MONITOR, t.project_path, window=1, retrain="none")
    assert status == "successful", stdout + stderr
    # the world changes: every delivery now takes 12 minutes longer than the model knows
    late, _ = score(t, tmp_path, seed=62)
    slow = labels_frame(late).assign(delivery_minutes=lambda d: d["delivery_minutes"] + 12)
    apply_feedback(t.ledger, t.cfg, slow, "slow.csv", "ren", keys=t.keys)
    _, status, stdout, stderr = run_flow(MONITOR, t.project_path, window=1, retrain="none")
    assert status == "successful", stdout + stderr
    first, second = t.ledger.monitoring.reports()
    c1 = next(c for c in first.checks if c["name"] == "interval_coverage")
    c2 = next(c for c in second.checks if c["name"] == "interval_coverage")
    print(f"coverage calm {c1['value']:.3f}, after the change {c2['value']:.3f}")
    assert c1["verdict"] == "ok" and abs(c1["value"] - 0.9) < 0.04
    assert c2["verdict"] == "alert" and c2["value"] < 0.85
    assert "interval_coverage" in " ".join(second.reasons)
    assert "interval_coverage" in stdout
    views = monitoring_views(t.ledger)
    assert views is not None and list(views.coverage["coverage"]) == [c1["value"], c2["value"]]
