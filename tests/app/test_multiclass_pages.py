"""A multiclass project in the app and in monitoring: the generated three-class project
(fast, usual, slow deliveries) trained, released, scored in a batch and online, labelled
by class name and monitored; every page renders, the Models page shows the confusion
matrix and per-class metrics, monitoring reports the prediction sets' coverage and the
predicted class mix."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from shared.config import load_project_set
from shared.data import storage
from shared.data.generator import generate_classed_orders
from shared.data.ingest import land_raw
from shared.data.partvalidate import validate_batch
from shared.guard import Envelope
from shared.ledger import Ledger
from shared.monitor.monitoring import monitor, record
from shared.operate.feedback import apply_feedback
from shared.operate.scoring import fresh_batch_start, score_in_process
from shared.operate.service import create_app
from shared.release import load_alias
from shared.training import (
    apply_gates,
    load_training_input,
    registration,
    save_artifacts,
    split_by_time,
    train_candidate,
)
from tests.app.conftest import PAGES
from tests.app.test_apptest import open_page
from tests.builders import release
from tests.conftest import write_project
from tests.unit.test_multiclass import CLASSES, multiclass_project

pytestmark = pytest.mark.slow

RULES = {
    "input": [
        {
            "name": "distance_in_service_area",
            "kind": "range",
            "column": "distance_km",
            "max": 40,
            "action": "reject",
        },
        {"name": "within_training_envelope", "kind": "envelope", "margin": 0.5},
        {"name": "sure_enough", "kind": "confidence", "min": 0.4},
    ],
}


COSTS = {  # a late delivery promised as fast costs more than a fast one promised as slow
    "fixed_monthly": {"team": 1000},
    "benefit": {
        "predictions_per_month": 10000,
        "classes": {
            "fast": {"share": 0.35, "value_if_right": 0.2, "cost_if_wrong": 0.5},
            "usual": {"share": 0.35, "value_if_right": 0.1, "cost_if_wrong": 0.3},
            "slow": {"share": 0.30, "value_if_right": 0.5, "cost_if_wrong": 2.0},
        },
    },
}


def classed_csv(path: Path, rows: int, seed: int, **kwargs: object):
    """A raw export of generated orders with their delivery class (the batch's labels too)."""
    g = generate_classed_orders(rows, seed, **kwargs)
    g.orders.merge(g.labels[["order_id", "delivery_class"]], on="order_id").to_csv(
        path, index=False
    )
    return g


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("multiclass")
    (tmp / "rules.yaml").write_text(yaml.safe_dump(RULES))
    (tmp / "costs.yaml").write_text(yaml.safe_dump(COSTS))
    base = {**multiclass_project(families=["baseline", "xgboost"]), "name": "deliveries"}
    project = write_project(tmp, base=base)
    pset = load_project_set(project)
    cfg, rules, roles = pset.project, pset.rules, pset.roles
    ledger = Ledger.open(cfg.storage.ledger_url)
    root = cfg.storage.data_root
    classed_csv(tmp / "train.csv", 4000, seed=21, start="2026-10-01T00:00:00")
    outcome, split = validate_batch(
        land_raw(str(tmp / "train.csv"), root), cfg, root, datetime(2026, 11, 1)
    )
    ledger.datasets.record_ingest(outcome, split.reasons, "taro", "IngestFlow/m1")
    inp = load_training_input(ledger, cfg, [outcome.dataset_version])
    sp = split_by_time(inp.rows, cfg)
    env = Envelope.learn(sp.train, cfg)
    cands = [train_candidate(f, sp, cfg, rules, env) for f in cfg.training.families]
    apply_gates(cands, cfg, None, rules)
    for c in cands:
        c.artifact_uri = save_artifacts(c, root, "TrainFlow/m1")
    base = next(c for c in cands if c.family == "baseline")
    ledger.runs.start("TrainFlow", "m1", "mina")
    regs = ledger.registry.register(
        "TrainFlow/m1",
        "TrainFlow/m1",
        [registration(c, base, cfg, None) for c in cands],
        [outcome.dataset_version],
        "mina",
        "0" * 40,
        False,
        cfg.config_hash(),
    )
    ledger.runs.finish("TrainFlow/m1", "succeeded")
    [version] = [m.version for m in regs if m.status == "candidate"]
    release(ledger, roles, cfg, rules, version)
    dep, guarded = load_alias(ledger)
    # a scoring batch whose labels arrive by class name
    g = classed_csv(tmp / "batch.csv", 800, seed=5, start=fresh_batch_start(), days=1)
    raw = land_raw(str(tmp / "batch.csv"), root)
    prefix = storage.join(root, "scores", "test")
    rows, counts = score_in_process(guarded, raw, 400, prefix, "ScoreFlow/m1")
    ledger.operations.record_scoring_batch(
        "ScoreFlow/m1", raw.source, raw.uri, raw.sha256, dep.id, prefix, rows, counts, "ren"
    )
    # online answers, captured with their class probabilities
    o = generate_classed_orders(30, seed=8, start=fresh_batch_start(), days=1, id_prefix="w")
    online = json.loads(o.orders.drop(columns=["created_at"]).to_json(orient="records"))
    with TestClient(create_app(cfg.storage.ledger_url, cfg=cfg, identity=roles.identity)) as c:
        answers = [c.post("/predict", json=row).json() for row in online]
    labels = g.labels[["order_id", "delivery_class"]].iloc[:600]
    feedback = apply_feedback(ledger, cfg, labels, "labels.parquet", "ren")
    result = monitor(ledger, cfg)
    record(ledger, cfg, result, "MonitorFlow/m1", "sora")
    return project, version, answers, feedback, result


def test_online_answers_carry_class_probabilities_and_sets(populated) -> None:
    *_, answers, _, _ = populated
    a = answers[0]["predictions"][0]
    assert set(a["probabilities"]) == set(CLASSES) and a["predicted_class"] in CLASSES
    assert a["predicted_class"] in a["prediction_set"]


def test_monitoring_checks_set_coverage_and_the_predicted_class_mix(populated) -> None:
    *_, feedback, result = populated
    assert feedback.batch.accepted >= 500, feedback.batch
    checks = {c.name: c for c in result.checks}
    cov = checks["interval_coverage"]
    assert cov.verdict == "ok" and cov.value == pytest.approx(0.9, abs=0.05), cov.detail
    assert "prediction set" in cov.detail
    mix = checks["class_mix"]
    assert mix.verdict in ("ok", "alert") and "fast" in mix.detail, mix.detail
    perf = checks["performance"]
    assert perf.value is not None and "log_loss" in perf.detail, perf.detail


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_a_multiclass_project(page, app_env, populated) -> None:
    project, version, *_ = populated
    app_env(project)
    at = open_page(page)
    if page == "models":
        assert any("Confusion matrix" in s.value for s in at.subheader)
        confusion = next(d.value for d in at.dataframe if "predicted fast" in d.value.columns)
        assert list(confusion.columns) == [f"predicted {c}" for c in CLASSES]
        assert any("Per-class metrics" in s.value for s in at.subheader)
    if page == "costs":  # the per-class table prices the model above the baseline
        assert [m.label for m in at.metric][-1] == "Break-even"
    if page == "guard":
        at.button[0].click().run()  # the what-if form answers a class
        assert not at.exception, [e.value for e in at.exception]
        assert any("Decision:" in m.value for m in at.markdown)
