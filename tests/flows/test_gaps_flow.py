"""Real data has gaps (issue 29): a project with nullable features through ingest, train,
approvals, promotion, the score flow and the HTTP service, as a user runs them; and a
project folder of one file (project.yaml) through ingest and train."""

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
from shared.config import load_project_set
from shared.data.generator import generate_orders
from shared.ledger import Ledger
from shared.operate.scoring import fresh_batch_start
from shared.training import load_artifacts
from tests.conftest import FAST_TRAINING, stop_process, wait_for_http, write_project
from tests.flows.helpers import INGEST, MONITOR, SCORE, TRAIN, cli_run
from tests.service.test_http import ROW, start_service

pytestmark = pytest.mark.slow

NULLABLE = ("distance_km", "courier_load", "rain", "cuisine")
# the domain expert's say: a row without a zone is answered by the baseline, not refused
NEED_ZONE = {"name": "need_zone", "kind": "required", "columns": ["zone"], "action": "fallback"}


def gappy_project(tmp: Path) -> Path:
    project = write_project(
        tmp, **FAST_TRAINING, **{f"features__{n}__nullable": True for n in NULLABLE}
    )
    rules = yaml.safe_load((tmp / "rules.yaml").read_text())
    rules["input"].append(NEED_ZONE)
    (tmp / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    return project


def with_gaps(frame: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = frame.copy()
    for name in NULLABLE:
        out[name] = out[name].astype(object).where(rng.random(len(out)) >= share, None)
    return out


def ok(p) -> str:
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    return out


def test_nullable_features_through_the_loop_with_one_answer_per_row(tmp_path: Path) -> None:
    project = gappy_project(tmp_path)
    pset = load_project_set(project)
    cfg = pset.project
    flow_cfg = ("--config", "project", str(project))
    # a raw export with its labels: 10% gaps in each nullable feature; one row without a
    # label, two rows missing a feature that is not nullable
    g = generate_orders(3000, seed=11, bad_fraction=0.0)
    labels = g.labels[[cfg.id_column, cfg.target]]
    raw = with_gaps(g.orders, 0.1, seed=3).merge(labels, on=cfg.id_column)
    raw.loc[7, cfg.target] = None
    raw.loc[8, "zone"] = None
    raw.loc[9, "hour"] = None
    src = tmp_path / "orders.csv"
    raw.to_csv(src, index=False)
    ok(cli_run(INGEST, *flow_cfg, "run", "--source", str(src)))
    ledger = Ledger.open(cfg.storage.ledger_url)
    [ds] = ledger.datasets.all()
    assert (ds.rows_in, ds.rows_valid, ds.rows_quarantined) == (3000, 2998, 2)
    q = ledger.datasets.quarantine(ds.version)
    assert sorted((c.column, c.check, [e.row for e in c.examples]) for c in q.by_check) == [
        ("hour", "not_nullable", [9]),
        ("zone", "not_nullable", [8]),
    ]
    kept = pd.read_parquet(ds.location)
    for name in NULLABLE:  # the gaps are kept as missing values
        assert (
            kept[name].isna().sum() == raw[name].isna().sum() - raw.loc[[8, 9], name].isna().sum()
        )
    # a row without its label is kept (labels may come later) and not trained on
    assert kept[cfg.target].isna().sum() == 1

    out = ok(cli_run(TRAIN, *flow_cfg, "run"))
    models = {m.family: m for m in ledger.registry.models()}
    assert {"baseline", "xgboost", "torch_mlp"} <= set(models), out[-2000:]
    for family in ("xgboost", "torch_mlp"):  # trained on the gaps, and better than the rule
        m = models[family]
        assert m.metrics["mae"] < 0.95 * m.baseline_metrics["mae"], (family, m.metrics)
    # the bundle's MLP imputes with statistics learned at training
    meta = json.loads(load_artifacts(models["torch_mlp"].artifact_uri, ["meta.json"])["meta.json"])
    gaps = {gap["feature"]: gap for gap in meta["impute"]}
    assert set(gaps) == set(NULLABLE) and gaps["cuisine"]["kind"] == "category"
    train_median = float(np.nanmedian(kept["distance_km"].to_numpy(dtype=float)))
    assert abs(gaps["distance_km"]["fill"][0] - train_median) < 2.0

    [cand] = [m for m in ledger.registry.models() if m.status == "candidate"]

    def renkei(*args: str) -> str:
        r = CliRunner().invoke(cli, ["--project", str(tmp_path), *args])
        assert r.exit_code == 0, r.output
        return r.output

    people = pset.roles.members
    for role in pset.roles.approval.required_roles:
        renkei("approve", cand.version, "--as", people[role][0], "--comment", "ok")
    renkei("promote", cand.version, "--to", "production", "--as", people["MLOps Engineer"][0])

    # one request: complete rows, rows with gaps in nullable features (null or absent),
    # a row without its zone (the required rule: fallback), one without its hour (rejected)
    rows = [
        ROW,
        {**ROW, "order_id": "gap-null", "distance_km": None, "cuisine": None, "rain": None},
        {k: v for k, v in ROW.items() if k not in ("courier_load", "cuisine")}
        | {"order_id": "gap-absent"},
        {**ROW, "order_id": "no-zone", "zone": None},
        {k: v for k, v in ROW.items() if k != "hour"} | {"order_id": "no-hour"},
    ]
    want = [
        ("model", []),
        ("model", []),
        ("model", []),
        ("fallback", ["need_zone:zone"]),
        ("rejected", ["schema:hour:not_nullable"]),
    ]
    proc, base, _ = start_service(project)
    try:
        wait_for_http(f"{base}/health", proc)
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as c:
            r = c.post("/predict", json=rows)
            assert r.status_code == 200, r.text
            answers = r.json()["predictions"]
            assert [(a["decision"], a["reasons"]) for a in answers] == want
            assert all(a["prediction"] is not None for a in answers[:4])
            assert answers[4]["prediction"] is None
            # a body that is not rows is still a 422; a wrong type is that row's rejection
            assert c.post("/predict", json="a row").status_code == 422
            typo = c.post("/predict", json=[ROW, {**ROW, "hour": "noon", "rain": None}])
            assert [(a["decision"], a["reasons"]) for a in typo.json()["predictions"]] == [
                ("model", []),
                ("rejected", ["schema:hour:dtype('int64')"]),
            ]
            # every answer is captured (a wrong-typed value kept as null), none lost
            deadline = time.time() + 60
            while (cap := c.get("/health").json()["capture"])["written"] < 7:
                assert time.time() < deadline, cap
                time.sleep(0.2)
            assert cap["write_errors"] == 0 and cap["dropped"] == 0, cap
    finally:
        stop_process(proc)

    # the score flow decides the same per row, from a CSV with empty cells and no
    # courier_load column at all
    batch = pd.DataFrame(rows).drop(columns=["courier_load"])
    batch["created_at"] = fresh_batch_start()
    to_score = tmp_path / "to_score.csv"
    batch.to_csv(to_score, index=False)
    ok(cli_run(SCORE, *flow_cfg, "run", "--source", str(to_score)))
    [scored] = ledger.operations.scoring_batches()
    got = pd.read_parquet(scored.output_uri)
    assert list(got["row_id"]) == [r["order_id"] for r in rows]
    assert list(got["decision"]) == [d for d, _ in want]
    assert [r.split("; ") if r else [] for r in got["reasons"]] == [why for _, why in want]

    # monitoring watches each nullable feature's missing share: a batch where half the
    # rows lack their cuisine alerts on it; the other shares are as in training
    g2 = generate_orders(600, seed=21, start=fresh_batch_start(), days=1, id_prefix="m")
    more = with_gaps(g2.orders, 0.1, seed=4)
    more["cuisine"] = more["cuisine"].where(np.arange(len(more)) % 2 == 0, None)
    second = tmp_path / "more.csv"
    more.to_csv(second, index=False)
    ok(cli_run(SCORE, *flow_cfg, "run", "--source", str(second)))
    ok(cli_run(MONITOR, *flow_cfg, "run", "--window", "1"))
    [report] = ledger.monitoring.reports()
    checks = {c["name"]: c for c in report.checks}
    assert checks["missing:cuisine"]["verdict"] == "alert", checks["missing:cuisine"]
    share = more["cuisine"].isna().mean()  # half the rows, plus the 10% gaps of the others
    assert f"missing in {share:.1%} of rows" in checks["missing:cuisine"]["detail"]
    for name in ("distance_km", "courier_load", "rain"):
        assert checks[f"missing:{name}"]["verdict"] == "ok", checks[f"missing:{name}"]


def test_a_project_folder_with_only_project_yaml_runs(tmp_path: Path) -> None:
    project = write_project(tmp_path, **FAST_TRAINING, training__families=["baseline", "xgboost"])
    for name in ("rules.yaml", "roles.yaml", "costs.yaml"):
        (tmp_path / name).unlink()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".yaml") == ["project.yaml"]
    flow_cfg = ("--config", "project", str(project))
    ok(cli_run(INGEST, *flow_cfg, "run", "--rows", "2000"))
    ok(cli_run(TRAIN, *flow_cfg, "run"))
    cfg = load_project_set(project).project
    ledger = Ledger.open(cfg.storage.ledger_url)
    [cand] = [m for m in ledger.registry.models() if m.status == "candidate"]
    assert cand.family == "xgboost"
    r = CliRunner().invoke(cli, ["--project", str(tmp_path), "costs"])
    assert r.exit_code == 0 and "No costs are configured" in r.output
    r = CliRunner().invoke(cli, ["--project", str(tmp_path), "deploy", "aws", "--dry-run"])
    assert r.exit_code != 0 and "no roles file" in r.output
