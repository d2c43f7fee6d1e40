"""Multiclass tasks: config, metrics, the class stump, families, gates, the guard's
probability rules and conformal prediction sets measured on fresh generated rows."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from shared.config import ConfigError, ProjectConfig, RulesConfig, load_project
from shared.config.rules import check_rules
from shared.data.contracts import build_contracts
from shared.data.generator import DELIVERY_CLASSES, generate_classed_orders
from shared.data.validation import split_valid
from shared.guard import Envelope, GuardedModel
from shared.guard.bundle import build_bundle, load_bundle
from shared.model.conformal import CALIBRATION_FILE, Calibration
from shared.model.families import Baseline, load_model
from shared.model.metrics import evaluate
from shared.model.multiclass import (
    class_index,
    confusion_matrix,
    per_class_metrics,
    set_coverage,
    set_mask,
)
from shared.training import apply_gates, assemble, split_by_time, train_candidate

REPO = Path(__file__).resolve().parents[2]
CLASSES = list(DELIVERY_CLASSES)


def multiclass_project(**training: object) -> dict:
    """The ETA project turned into the generated three-class one (fast, usual, slow)."""
    data = yaml.safe_load((REPO / "config" / "project.yaml").read_text())
    data.update(task="multiclass", target="delivery_class", classes=CLASSES, target_range={})
    data.pop("baseline")  # the default: a stump learned from the data
    data.pop("generator", None)
    data["training"].update({"key_metric": "log_loss", "slices": ["zone", "rain"], **training})
    data["training"]["xgboost"]["n_estimators"] = 150
    data["training"]["torch_mlp"].update(epochs=20, patience=4)
    return data


CFG = ProjectConfig.model_validate(multiclass_project())
RULES = RulesConfig.model_validate(
    {"input": [{"name": "within_training_envelope", "kind": "envelope", "margin": 0.5}]}
)


def classed_rows(n: int, seed: int) -> pd.DataFrame:
    """Generated orders with their delivery class, validated as ingest validates them."""
    g = generate_classed_orders(n, seed)
    rows = g.orders.merge(g.labels[["order_id", "delivery_class"]], on="order_id")
    return split_valid(rows, build_contracts(CFG)).valid


@cache
def trained() -> tuple:
    split = split_by_time(assemble([classed_rows(8000, 3)], [], CFG), CFG)
    env = Envelope.learn(split.train, CFG)
    cands = [train_candidate(f, split, CFG, RULES, env) for f in CFG.training.families]
    apply_gates(cands, CFG, None, RULES)
    base = Baseline(CFG)
    base.fit(split.train, split.y("train"))
    return split, env, base, {c.family: c for c in cands}


def guarded(family: str = "xgboost", rules: RulesConfig = RULES) -> GuardedModel:
    _, env, base, cands = trained()
    c = cands[family]
    cal = Calibration.from_json(c.files[CALIBRATION_FILE])
    return GuardedModel(load_model(c.files, CFG), base, CFG, rules, env, "v1", "r", cal)


# -- config ------------------------------------------------------------------------------------
def test_a_multiclass_project_names_its_classes_and_a_fitting_metric() -> None:
    assert CFG.classes == CLASSES and not CFG.higher_is_better
    for key, value, why in [
        ("classes", None, "at least three class names"),
        ("classes", ["a", "b"], "use task binary"),
        ("classes", ["a", "a", "b"], "unique"),
        ("classes", ["a", "b|c", "d"], "no '|'"),
    ]:
        with pytest.raises(ValueError, match=why):
            ProjectConfig.model_validate({**multiclass_project(), key: value})
    with pytest.raises(ValueError, match="'roc_auc' does not fit task 'multiclass'"):
        ProjectConfig.model_validate(multiclass_project(key_metric="roc_auc"))
    assert ProjectConfig.model_validate(multiclass_project(key_metric="macro_f1")).higher_is_better
    wrong = {**multiclass_project(), "baseline": {"rule": "mean"}}
    with pytest.raises(ValueError, match="does not fit task 'multiclass'"):
        ProjectConfig.model_validate(wrong)
    eta = load_project(REPO / "config" / "project.yaml")
    with pytest.raises(ValueError, match="only for multiclass"):
        ProjectConfig.model_validate({**eta.model_dump(), "classes": CLASSES})
    # the ETA project's settings hash is what it was before multiclass existed
    assert "classes" not in eta.model_dump(exclude={"classes"})


def test_rules_that_do_not_fit_a_multiclass_task_are_refused() -> None:
    cap = RulesConfig.model_validate({"output": [{"name": "cap", "kind": "cap", "value": 1}]})
    with pytest.raises(ConfigError, match="use a 'confidence' input rule"):
        check_rules(cap, CFG, "rules.yaml")
    sure = {"name": "sure", "kind": "confidence", "min": 0.6}
    check_rules(RulesConfig.model_validate({"input": [sure]}), CFG, "rules.yaml")
    eta = load_project(REPO / "config" / "project.yaml")
    with pytest.raises(ConfigError, match="confidence rule is for multiclass"):
        check_rules(RulesConfig.model_validate({"input": [sure]}), eta, "rules.yaml")
    with pytest.raises(ValueError, match="needs 'min'"):
        RulesConfig.model_validate({"input": [{"name": "s", "kind": "confidence"}]})


# -- metrics -----------------------------------------------------------------------------------
def test_metrics_of_class_probabilities() -> None:
    y = np.array([0, 1, 2, 2, 1], dtype=float)
    p = np.array(
        [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.5, 0.3, 0.2], [0.1, 0.6, 0.3]]
    )
    m = evaluate("multiclass", y, p)
    assert m["accuracy"] == pytest.approx(0.8)
    want_loss = -np.mean(np.log([0.8, 0.7, 0.8, 0.2, 0.6]))
    assert m["log_loss"] == pytest.approx(want_loss)
    # per class F1: class 0: p=1/2 r=1 -> 2/3; class 1: 1; class 2: p=1 r=1/2 -> 2/3
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    cm = confusion_matrix(y, p.argmax(axis=1), 3)
    assert cm.tolist() == [[1, 0, 0], [0, 2, 0], [1, 0, 1]]
    table = per_class_metrics(y, p, ["a", "b", "c"])
    assert table["support"].tolist() == [1, 2, 2]
    assert class_index(["b", "x", None, "a"], ["a", "b"]).tolist()[::3] == [1.0, 0.0]


# -- training ----------------------------------------------------------------------------------
def test_a_multiclass_candidate_beats_its_learned_baseline_on_every_gate() -> None:
    split, _, _, cands = trained()
    base = cands["baseline"]
    assert base.status == "baseline"
    recalls = {f"recall_{c}" for c in CLASSES}  # what the per-class costs weigh
    assert set(base.metrics) == {"log_loss", "accuracy", "macro_f1", *recalls}
    # the stump is a rule over one feature: better than the class shares alone
    shares = np.bincount(split.y("holdout").astype(int), minlength=3).max() / len(split.holdout)
    assert base.metrics["accuracy"] > shares
    best = [c for c in cands.values() if c.status == "candidate"]
    assert len(best) == 1 and best[0].family != "baseline"
    assert best[0].metrics["log_loss"] < 0.7 * base.metrics["log_loss"]
    assert best[0].metrics["accuracy"] > base.metrics["accuracy"] + 0.1
    assert all(g.passed for g in best[0].gates), best[0].gates
    assert "zone=center" in best[0].slices
    for c in cands.values():  # both learned families answer a probability per class
        p = load_model(c.files, CFG).predict(split.holdout.head(50))
        assert p.shape == (50, 3) and np.allclose(p.sum(axis=1), 1.0)


def test_the_majority_baseline_answers_the_training_class_shares() -> None:
    split, *_ = trained()
    cfg = ProjectConfig.model_validate({**multiclass_project(), "baseline": {"rule": "majority"}})
    b = Baseline(cfg)
    b.fit(split.train, split.y("train"))
    p = b.predict(split.holdout)
    counts = np.bincount(split.y("train").astype(int), minlength=3)
    assert np.allclose(p, (counts + 1) / (counts.sum() + 3))
    assert (p.argmax(axis=1) == counts.argmax()).all()


# -- the guard ---------------------------------------------------------------------------------
def test_guarded_answers_carry_each_class_probability_the_class_and_its_set() -> None:
    split, *_ = trained()
    out = guarded().predict(split.holdout)
    probs = out[[f"p_{c}" for c in CLASSES]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert (out["predicted_class"] == np.asarray(CLASSES)[probs.argmax(axis=1)]).all()
    assert np.allclose(out["prediction"], probs.max(axis=1))
    sets = out["prediction_set"].str.split("|")
    assert all(c in s for c, s in zip(out["predicted_class"], sets, strict=True))
    # a rejected row has no answer at all
    bad = split.holdout.head(3).assign(zone=["center", "nowhere", "north"])
    recs = guarded().predict_records(bad.to_dict("records"))
    assert recs[1]["decision"] == "rejected" and recs[1]["probabilities"] is None
    assert recs[1]["predicted_class"] is None and recs[1]["prediction_set"] is None
    assert set(recs[0]["probabilities"]) == set(CLASSES) and recs[0]["predicted_class"] in CLASSES


def test_a_confidence_rule_sends_unsure_answers_to_the_baseline() -> None:
    split, _, base, _ = trained()
    rule = {"name": "sure_enough", "kind": "confidence", "min": 0.7, "action": "fallback"}
    rules = RulesConfig.model_validate({"input": [*RULES.model_dump()["input"], rule]})
    plain, ruled = guarded().predict(split.holdout), guarded(rules=rules).predict(split.holdout)
    unsure = (plain["decision"] == "model") & (plain["prediction"] < 0.7)
    assert unsure.sum() > 20
    fell = ruled[unsure.to_numpy()]
    assert (fell["decision"] == "fallback").all() and fell["reasons"].str.contains(
        "sure_enough"
    ).all()
    want = base.predict(split.holdout[unsure.to_numpy()])
    assert np.allclose(fell[[f"p_{c}" for c in CLASSES]].to_numpy(), want)
    sure = ruled[(plain["decision"] == "model").to_numpy() & ~unsure.to_numpy()]
    assert (sure["decision"] == "model").all()
    # rejecting instead: no answer
    rules = RulesConfig.model_validate(
        {"input": [*RULES.model_dump()["input"], {**rule, "action": "reject"}]}
    )
    rejected = guarded(rules=rules).predict(split.holdout)[unsure.to_numpy()]
    assert (rejected["decision"] == "rejected").all() and rejected["predicted_class"].isna().all()


def test_prediction_sets_hold_the_true_class_near_nominal_coverage_on_fresh_rows() -> None:
    fresh = classed_rows(20000, seed=99)  # rows the model never saw (another generator seed)
    for family in ("xgboost", "torch_mlp"):
        out = guarded(family).predict(fresh)
        coverage = set_coverage(fresh["delivery_class"], out["prediction_set"])
        sizes = out["prediction_set"].str.count(r"\|") + 1
        print(
            f"{family}: set coverage {coverage:.4f} on {len(fresh)} rows, mean size {sizes.mean():.2f}"
        )
        assert abs(coverage - CFG.intervals.coverage) <= 0.02
        assert sizes.mean() < 2.0  # informative: most sets are a single class


def test_set_mask_keeps_the_most_probable_class() -> None:
    p = np.array([[0.5, 0.3, 0.2], [0.34, 0.33, 0.33], [np.nan] * 3])
    m = set_mask(p, 0.75)  # a class is in the set when 1 - p <= 0.75
    assert m.tolist() == [[True, True, False], [True, True, True], [False, False, False]]
    assert set_mask(p[:1], 0.0).tolist() == [[True, False, False]]


def test_a_multiclass_bundle_round_trips() -> None:
    split, env, base, cands = trained()
    c = cands["xgboost"]
    files = {k: v for k, v in c.files.items() if k != CALIBRATION_FILE}
    args = (base.to_files(), CFG, RULES, env, "v9", "xgboost", "abc", c.files[CALIBRATION_FILE])
    loaded = load_bundle(build_bundle(files, *args))
    a = loaded.predict(split.holdout.head(100))
    b = guarded().predict(split.holdout.head(100))
    cols = ["predicted_class", "prediction_set", *(f"p_{k}" for k in CLASSES)]
    pd.testing.assert_frame_equal(a[cols], b[cols])
