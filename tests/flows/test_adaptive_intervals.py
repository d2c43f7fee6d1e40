"""Adaptive intervals (issue 28, item 3) through the paths users run: on the demo's drifted
day the replay protocol (`renkei intervals replay`) brings coverage back within 2 points of
nominal; labels delivered with `renkei feedback` move production's quantile, each update is
in the ledger and `renkei audit verify` still passes; the score flow and `renkei serve`
answer with the new quantile; the monitor flow reports coverage with and without
adaptation; switched off, nothing moves."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from shared.cli import cli
from shared.data.ingest import generate_raw
from shared.model.conformal import CALIBRATION_FILE, Calibration
from shared.operate.scoring import FRESH_DAYS, fresh_batch_start
from shared.training import load_optional
from tests.builders import build, release
from tests.conftest import stop_process, wait_for_http
from tests.flows.helpers import MONITOR, SCORE, run_flow
from tests.service.test_http import ROW, start_service

pytestmark = pytest.mark.slow

NOMINAL = 0.9


def _drifted_day(t, seed: int, rows: int = 2000) -> tuple[str, Path]:
    """A batch like the demo's drifted days (scripts/demo_days.sh: drift 1.0, 3% bad rows,
    a fresh week): its raw file and its labels (with ``delivered_at``)."""
    src, labels = generate_raw(
        t.cfg,
        t.cfg.storage.data_root,
        rows,
        seed,
        0.03,
        1.0,
        start=fresh_batch_start(),
        days=FRESH_DAYS,
        prefix="score",
    )
    return src, Path(labels)


def _renkei(t, *args: str) -> str:
    out = CliRunner().invoke(cli, ["--project", str(t.project_path), *args])
    assert out.exit_code == 0, out.output
    return out.output


def _deliver(t, tmp: Path, labels: pd.DataFrame, parts: int, name: str) -> None:
    """The labels in arrival order, ``parts`` deliveries through `renkei feedback`."""
    labels = labels.sort_values("delivered_at", kind="stable")
    edges = np.linspace(0, len(labels), parts + 1).astype(int)
    for i, (a, b) in enumerate(zip(edges, edges[1:], strict=False)):
        chunk = labels.iloc[a:b]
        path = tmp / f"{name}-{i}.csv"
        chunk.to_csv(path, index=False)
        out = _renkei(t, "feedback", str(path), "--as", "ren")
        assert "interval quantile of production" in out, out


def _slower(labels: pd.DataFrame) -> pd.DataFrame:
    return labels.assign(delivery_minutes=labels["delivery_minutes"] * 1.15)


def _factor_used(batch_uri: str, cal: Calibration) -> np.ndarray:
    """Each model answer's interval half-width over the calibrated one for its answer."""
    out = pd.read_parquet(batch_uri)
    model = out[out["decision"] == "model"]
    half = (model["interval_high"] - model["interval_low"]).to_numpy() / 2
    return half / cal.model.half_width(model["prediction"].to_numpy(float))


def test_drifted_day_replay_feedback_score_flow_and_monitor(tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1, rows=6000)
    release(t.ledger, t.roles, t.cfg, t.rules, t.candidates[0])
    src, labels_path = _drifted_day(t, 403)
    _, status, stdout, stderr = run_flow(SCORE, t.project_path, source=src)
    assert status == "successful", stdout + stderr
    # the protocol: the day's labelled answers in arrival order, 100 labels a delivery
    r = json.loads(_renkei(t, "intervals", "replay", str(labels_path), "--every", "100", "--json"))
    print(f"drifted day: {r['without_adaptation']:.3f} without, {r['with_adaptation']:.3f} with")
    assert r["labels"] > 1500 and r["deliveries"] == -(-r["labels"] // 100)
    assert abs(r["with_adaptation"] - NOMINAL) <= 0.02
    # this test's model loses little on the generator's drift (about a point; the demo's
    # model 6-7): the world changes further, every delivery takes 15% longer than it knows
    slow_path = tmp_path / "slow.parquet"
    _slower(pd.read_parquet(labels_path)).to_parquet(slow_path)
    r = json.loads(_renkei(t, "intervals", "replay", str(slow_path), "--json"))
    print(f"slower day: {r['without_adaptation']:.3f} without, {r['with_adaptation']:.3f} with")
    assert r["without_adaptation"] < NOMINAL - 0.03  # the calibrated quantile under-covers
    # a harsher shift than the protocol (the drifted day, within 2 points above):
    # adaptation recovers most of it (0.879 measured against 0.90 nominal), within 3 points
    assert r["with_adaptation"] > r["without_adaptation"]
    assert abs(r["with_adaptation"] - NOMINAL) <= 0.03
    text = _renkei(t, "intervals", "replay", str(slow_path))
    assert "without adaptation" in text and "with" in text
    # the labels arrive for real: four deliveries, four recorded updates, in a chain
    _deliver(t, tmp_path, pd.read_parquet(slow_path), 4, "day3")
    ups = t.ledger.intervals.updates("production")
    assert len(ups) == 4 and ups[0].old_factor == 1.0
    assert all(a.new_factor == b.old_factor for a, b in zip(ups, ups[1:], strict=False))
    assert sum(u.labels for u in ups) == r["labels"]
    assert all(
        u.new_quantile == pytest.approx(u.old_quantile * u.new_factor / u.old_factor) for u in ups
    )
    assert ups[-1].new_factor > 1.1  # wider: the drift made the residuals larger
    listed = json.loads(_renkei(t, "intervals", "updates", "--json"))
    assert [u["id"] for u in listed] == [u.id for u in ups]
    assert _renkei(t, "audit", "verify")
    # the next drifted day is answered by the score flow at the adapted quantile
    src2, labels2 = _drifted_day(t, 404)
    _, status, stdout, stderr = run_flow(SCORE, t.project_path, source=src2)
    assert status == "successful", stdout + stderr
    first, second = t.ledger.operations.scoring_batches()
    cal = Calibration.from_json(
        load_optional(t.ledger.registry.model(t.candidates[0]).artifact_uri, CALIBRATION_FILE)
        or b""
    )
    # each model answer's half-width over the calibrated one: 1 before, the factor after
    assert np.median(_factor_used(first.output_uri, cal)) == pytest.approx(1.0, rel=1e-2)
    assert np.median(_factor_used(second.output_uri, cal)) == pytest.approx(
        ups[-1].new_factor, rel=1e-2
    )
    _deliver(t, tmp_path, _slower(pd.read_parquet(labels2)), 4, "day4")
    _, status, stdout, stderr = run_flow(MONITOR, t.project_path, window=1, retrain="none")
    assert status == "successful", stdout + stderr
    [report] = t.ledger.monitoring.reports()
    checks = {c["name"]: c for c in report.checks}
    served = checks["interval_coverage"]["value"]
    static = checks["interval_coverage_without_adaptation"]["value"]
    print(f"next drifted day: served coverage {served:.3f}, without adaptation {static:.3f}")
    assert abs(served - NOMINAL) <= 0.03 and static < served - 0.02
    assert not any("without_adaptation" in why for why in report.reasons)
    shown = _renkei(t, "monitoring", "--last", "1")
    assert "interval_coverage_without_adaptation" in shown and "interval_coverage " in shown
    assert _renkei(t, "audit", "verify")


def test_the_service_answers_with_the_new_quantile_within_its_alias_check(
    tmp_path: Path,
) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1, rows=6000)
    release(t.ledger, t.roles, t.cfg, t.rules, t.candidates[0])
    src, labels_path = _drifted_day(t, 405, rows=800)
    _, status, stdout, stderr = run_flow(SCORE, t.project_path, source=src)
    assert status == "successful", stdout + stderr
    labels = pd.read_parquet(labels_path).sort_values("delivered_at")
    proc, base, _ = start_service(t.project_path)
    try:
        wait_for_http(f"{base}/health", proc)
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as c:
            before = c.post("/predict", json=ROW).json()["predictions"][0]
            assert c.get("/version").json()["intervals"] == {"factor": 1.0, "update": None}
            _deliver(t, tmp_path, labels, 1, "web")
            [u] = t.ledger.intervals.updates("production")
            recorded = time.monotonic()
            while c.get("/version").json()["intervals"]["update"] != u.id:
                assert time.monotonic() - recorded < 10, c.get("/version").json()
                time.sleep(0.1)
            after = c.post("/predict", json=ROW).json()["predictions"][0]
    finally:
        stop_process(proc)
    assert before["decision"] == after["decision"] == "model"
    assert after["prediction"] == before["prediction"]
    width = lambda a: a["interval_high"] - a["interval_low"]  # noqa: E731
    assert width(after) / width(before) == pytest.approx(u.new_factor, rel=1e-6)


def test_switched_off_the_quantile_never_moves(tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1, rows=6000)
    release(t.ledger, t.roles, t.cfg, t.rules, t.candidates[0])
    data = yaml.safe_load(t.project_path.read_text())
    data.setdefault("intervals", {})["adaptive"] = {"enabled": False}
    t.project_path.write_text(yaml.safe_dump(data, sort_keys=False))
    src, labels_path = _drifted_day(t, 406, rows=600)
    _, status, stdout, stderr = run_flow(SCORE, t.project_path, source=src)
    assert status == "successful", stdout + stderr
    labels = pd.read_parquet(labels_path)
    path = tmp_path / "labels.csv"
    labels.to_csv(path, index=False)
    out = _renkei(t, "feedback", str(path), "--as", "ren")
    assert "interval quantile" not in out
    assert t.ledger.intervals.updates() == []
