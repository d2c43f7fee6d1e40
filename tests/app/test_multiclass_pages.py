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
from shared.data.generator import generate_classed_orders
from shared.ledger import Ledger
from shared.operate.feedback import apply_feedback
from shared.operate.scoring import fresh_batch_start
from shared.operate.service import create_app
from shared.pipeline.ingest import ingest
from shared.pipeline.monitor import check
from shared.pipeline.score import score
from shared.trust.release_key import release_keys
from tests.app.conftest import PAGES
from tests.app.test_apptest import open_page
from tests.builders import release, train_run
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


NOW = datetime(2026, 11, 1)  # the training batch's validation time


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
    classed_csv(tmp / "train.csv", 4000, seed=21, start="2026-10-01T00:00:00")
    # the pipeline's steps, as the flows run them
    ingested = ingest(ledger, cfg, "taro", "IngestFlow/m1", str(tmp / "train.csv"), now=NOW)
    [version] = train_run(ledger, cfg, rules, ingested.outcome.dataset_version, "m1", "mina")
    release(ledger, roles, cfg, rules, version)
    # a scoring batch whose labels arrive by class name
    g = classed_csv(tmp / "batch.csv", 800, seed=5, start=fresh_batch_start(), days=1)
    keys = release_keys(roles.identity, cfg.storage.data_root)
    score(ledger, cfg, "ScoreFlow/m1", "ren", str(tmp / "batch.csv"), partition_rows=400, keys=keys)
    # online answers, captured with their class probabilities
    o = generate_classed_orders(30, seed=8, start=fresh_batch_start(), days=1, id_prefix="w")
    online = json.loads(o.orders.drop(columns=["created_at"]).to_json(orient="records"))
    with TestClient(create_app(cfg.storage.ledger_url, cfg=cfg, identity=roles.identity)) as c:
        answers = [c.post("/predict", json=row).json() for row in online]
    labels = g.labels[["order_id", "delivery_class"]].iloc[:600]
    feedback = apply_feedback(ledger, cfg, labels, "labels.parquet", "ren", keys=keys)
    result = check(ledger, cfg, None, "MonitorFlow/m1", "sora").result
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
