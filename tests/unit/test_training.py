"""Each family trains and predicts; artifacts round-trip; gates pass and fail as configured."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared.config import ProjectConfig, load_project
from shared.data.generator import generate_orders
from shared.model.families import Baseline, load_model
from shared.training import (
    TrainingError,
    apply_gates,
    assemble,
    comparison_frame,
    generated_split,
    split_by_time,
    train_candidate,
)

REPO = Path(__file__).resolve().parents[2]
BASE_CFG = load_project(REPO / "config" / "project.yaml")


def fast(cfg: ProjectConfig, **changes) -> ProjectConfig:
    data = cfg.model_dump()
    data["training"]["xgboost"].update(n_estimators=150)
    data["training"]["torch_mlp"].update(epochs=20, patience=4)
    for key, value in changes.items():
        section, field = key.split("__")
        data[section][field] = value
    return ProjectConfig.model_validate(data)


def typed_rows(n: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    g = generate_orders(n, seed=seed)
    rows = g.orders.assign(created_at=pd.to_datetime(g.orders["created_at"]))
    return rows, g.labels


@pytest.fixture(scope="module")
def split():
    return generated_split(BASE_CFG, 4000, seed=1)


def test_split_is_by_time(split) -> None:
    assert split.train["created_at"].max() <= split.validation["created_at"].min()
    assert split.validation["created_at"].max() <= split.holdout["created_at"].min()
    assert sum(split.sizes.values()) == 4000 and split.sizes["holdout"] == 600


@pytest.mark.parametrize("family", ["baseline", "xgboost", "torch_mlp"])
def test_each_family_trains_predicts_and_round_trips(family: str, split) -> None:
    cfg = fast(BASE_CFG)
    c = train_candidate(family, split, cfg)
    assert set(c.metrics) == {"mae", "rmse", "p90_abs_error"}
    assert 0 < c.metrics["mae"] < 15
    assert {"zone=center", "rain=True", "rain=False"} <= set(c.slices)
    assert "meta.json" in c.files
    assert not any(name.endswith((".pkl", ".pickle")) for name in c.files)
    model = load_model(c.files, cfg)
    p = model.predict(split.holdout)
    assert p.shape == (len(split.holdout),) and np.isfinite(p).all()
    again = load_model(c.files, cfg).predict(split.holdout)
    np.testing.assert_allclose(p, again, rtol=1e-6)


def test_models_beat_the_baseline_and_gates_pick_one_candidate(split) -> None:
    cfg = fast(BASE_CFG)
    cands = apply_gates([train_candidate(f, split, cfg) for f in cfg.training.families], cfg)
    status = {c.family: c.status for c in cands}
    assert status["baseline"] == "baseline"
    assert list(status.values()).count("candidate") == 1
    best = next(c for c in cands if c.status == "candidate")
    base = next(c for c in cands if c.family == "baseline")
    assert best.metrics["mae"] <= (1 - cfg.gates.min_improvement) * base.metrics["mae"]
    frame = comparison_frame(cands, cfg)
    assert set(frame["family"]) == {"baseline", "xgboost", "torch_mlp"}
    assert "all" in set(frame["slice"])


def test_gates_fail_as_configured(split) -> None:
    cfg = fast(BASE_CFG, gates__min_improvement=0.95)
    cands = apply_gates([train_candidate(f, split, cfg) for f in ("baseline", "xgboost")], cfg)
    xgb = next(c for c in cands if c.family == "xgboost")
    assert xgb.status == "rejected" and xgb.failing_gates == ["beats_baseline"]
    assert not any(c.status == "candidate" for c in cands)


def test_slice_gate_catches_a_slice_that_got_worse(split) -> None:
    cfg = fast(BASE_CFG)
    cands = apply_gates([train_candidate(f, split, cfg) for f in ("baseline", "xgboost")], cfg)
    base, xgb = cands
    # pretend the model got much worse on one zone
    xgb.slices["zone=north"]["mae"] = base.slices["zone=north"]["mae"] * 1.5
    apply_gates(cands, cfg)
    assert xgb.status == "rejected" and "slices_not_worse" in xgb.failing_gates


def test_gates_need_the_baseline(split) -> None:
    cfg = fast(BASE_CFG)
    with pytest.raises(TrainingError, match="baseline"):
        apply_gates([train_candidate("xgboost", split, cfg)], cfg)


def test_too_little_data_is_a_clear_error() -> None:
    rows, labels = typed_rows(60)
    with pytest.raises(TrainingError, match="too few"):
        split_by_time(assemble([rows], [labels], BASE_CFG), BASE_CFG)


def test_labels_inside_the_dataset_win_and_unlabelled_rows_are_left_out() -> None:
    rows, labels = typed_rows(100)
    rows = rows.assign(delivery_minutes=np.nan)
    rows.loc[0, "delivery_minutes"] = 99.0
    labels = labels.iloc[:80]
    out = assemble([rows], [labels], BASE_CFG)
    assert len(out) == 80
    assert out.loc[out["order_id"] == rows.loc[0, "order_id"], "delivery_minutes"].item() == 99.0


def test_baseline_rule_by_hand() -> None:
    b = Baseline(BASE_CFG)
    row = pd.DataFrame(
        {"prep_minutes": [10.0], "distance_km": [17.0], "rain": [True], "courier_load": [5]}
    )
    p = BASE_CFG.baseline.params
    expected = (
        10
        + 17 / p["speed_kmh"] * 60
        + p["handling_minutes"]
        + p["rain_minutes"]
        + 5 * p["load_minutes_per_order"]
    )
    assert b.predict(row)[0] == pytest.approx(expected)


def binary_config() -> ProjectConfig:
    data = BASE_CFG.model_dump()
    data.update(task="binary", target="late", target_range={"min": None, "max": None})
    data["baseline"] = {"rule": "threshold", "params": {"feature": "distance_km", "above": 4.0}}
    data["training"].update(key_metric="roc_auc", slices=["rain"])
    data["training"]["xgboost"].update(n_estimators=100)
    data["training"]["torch_mlp"].update(epochs=15, patience=4)
    data["gates"].update(min_improvement=0.05)
    return ProjectConfig.model_validate(data)


def test_binary_task_end_to_end_from_config() -> None:
    cfg = binary_config()
    rows, labels = typed_rows(4000, seed=3)
    rows = rows.assign(late=(labels["delivery_minutes"] > 30).to_numpy())
    split = split_by_time(assemble([rows], [], cfg), cfg)
    cands = apply_gates([train_candidate(f, split, cfg) for f in cfg.training.families], cfg)
    for c in cands:
        assert set(c.metrics) == {"roc_auc", "log_loss", "precision", "recall"}
        assert 0.5 <= c.metrics["roc_auc"] <= 1.0
    best = next(c for c in cands if c.status == "candidate")
    base = next(c for c in cands if c.family == "baseline")
    assert best.metrics["roc_auc"] > base.metrics["roc_auc"] * 1.05


def test_guard_rate_gate_does_not_pass_unrun_when_rules_are_given(split) -> None:
    from shared.config import load_rules

    cfg = fast(BASE_CFG)
    rules = load_rules(REPO / "config" / "rules.yaml")
    cands = [train_candidate(f, split, cfg) for f in ("baseline", "xgboost")]  # no guard run
    apply_gates(cands, cfg, None, rules)
    gate = next(g for g in cands[1].gates if g.name == "guard_rate")
    assert not gate.passed and "the guard was not run on the holdout" in gate.detail
    apply_gates(cands, cfg)  # no rules at all: nothing to check
    assert next(g for g in cands[1].gates if g.name == "guard_rate").passed


def late_rows(n: int, seed: int) -> pd.DataFrame:
    rows, labels = typed_rows(n, seed=seed)
    return rows.assign(late=(labels["delivery_minutes"] > 30).to_numpy())


@pytest.fixture(scope="module")
def binary_split():
    cfg = binary_config()
    return split_by_time(assemble([late_rows(4000, 3)], [], cfg), cfg)


def test_stump_baseline_learns_one_split_and_discriminates(binary_split) -> None:
    data = binary_config().model_dump()
    data["baseline"] = {"rule": "stump", "params": {}}
    cfg = ProjectConfig.model_validate(data)
    c = train_candidate("baseline", binary_split, cfg)
    stump = json.loads(c.files["meta.json"])["stats"]["stump"]
    assert stump["feature"] in cfg.features and 0 < stump["left"] < stump["right"] < 1
    assert c.metrics["roc_auc"] >= 0.6
    # regression: the stump answers the median of each side (key metric MAE) and is
    # better than the constant mean
    reg = fast(BASE_CFG, baseline__rule="stump", baseline__params={})
    mean = fast(BASE_CFG, baseline__rule="mean", baseline__params={})
    rsplit = generated_split(BASE_CFG, 3000, seed=2)
    stump_mae = train_candidate("baseline", rsplit, reg).metrics["mae"]
    assert stump_mae < 0.9 * train_candidate("baseline", rsplit, mean).metrics["mae"]


def test_a_baseline_that_cannot_discriminate_is_refused(binary_split) -> None:
    data = binary_config().model_dump()
    data["baseline"] = {"rule": "base_rate", "params": {}}
    cfg = ProjectConfig.model_validate(data)
    cands = apply_gates(
        [train_candidate(f, binary_split, cfg) for f in ("baseline", "xgboost")], cfg
    )
    base, xgb = cands
    assert base.metrics["roc_auc"] == 0.5
    assert xgb.status == "rejected" and xgb.failing_gates == ["baseline_discriminates"]
    gate = xgb.gates[-1]
    assert "baseline 'base_rate' has holdout ROC AUC 0.500 (needs >= 0.55)" in gate.detail
    assert "cannot tell the classes apart" in gate.detail and "'stump'" in gate.detail
    # the default baseline (a learned stump) discriminates, so the gate passes
    data["baseline"] = {"rule": "stump", "params": {}}
    cfg = ProjectConfig.model_validate(data)
    cands = apply_gates(
        [train_candidate(f, binary_split, cfg) for f in ("baseline", "xgboost")], cfg
    )
    assert next(g for g in cands[1].gates if g.name == "baseline_discriminates").passed


def test_fitting_xgboost_never_imports_torch() -> None:
    """torch is imported only in the torch family, when a torch model is fitted or loaded:
    a fresh interpreter that imports shared.training and fits and reloads XGBoost has no
    torch in sys.modules; fitting the MLP then imports it."""
    import subprocess
    import sys

    code = f"""
import sys
from shared.config import load_project
from shared.training import generated_split, train_candidate
from shared.model.families import load_model
cfg = load_project({str(REPO / "config" / "project.yaml")!r})
split = generated_split(cfg, 1500, seed=2)
c = train_candidate("xgboost", split, cfg)
load_model(c.files, cfg).predict(split.holdout)
print("torch" in sys.modules)
import shared.model.families.torch_mlp
print("torch" in sys.modules)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.split() == ["False", "False"], out.stdout + out.stderr
