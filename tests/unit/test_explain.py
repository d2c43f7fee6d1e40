"""Per-answer explanations (issue 28 item 2): every family's contributions add up to its
raw answer (XGBoost within 1e-5 of the answer's size, the MLP within MLP_TOLERANCE, the
baseline's rule exactly) for regression, binary and multiclass; one-hot levels, the hour's
clock and the MLP's missing indicators are summed back to their feature; the guard explains
each answer by whoever gave it."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from shared.config import ProjectConfig, RulesConfig, load_rules
from shared.data.features import feature_matrix, feature_space
from shared.guard import Envelope, GuardedModel
from shared.guard.explain import explain_records, explanation_frame
from shared.model.explain import MLP_TOLERANCE, XGB_TOLERANCE, explain_model, owners
from shared.model.families import Baseline, load_model
from shared.model.families.xgboost_model import xgboost_module
from shared.training import generated_split, split_by_time, train_candidate
from shared.training.inputs import assemble
from tests.unit import test_gaps as gaps
from tests.unit import test_multiclass as mc
from tests.unit.test_training import BASE_CFG, binary_config, fast, typed_rows

RULES = load_rules(gaps.REPO / "config" / "rules.yaml")


def _stump(cfg: ProjectConfig) -> ProjectConfig:
    data = cfg.model_dump()
    data["baseline"] = {"rule": "stump", "params": {}}
    return ProjectConfig.model_validate(data)


@cache
def regression() -> tuple:
    cfg = fast(BASE_CFG)
    split = generated_split(cfg, 3000, seed=1)
    return cfg, split, {f: train_candidate(f, split, cfg) for f in ("xgboost", "torch_mlp")}


@cache
def binary() -> tuple:
    cfg = binary_config()
    rows, labels = typed_rows(3000, seed=3)
    rows = rows.assign(late=(labels["delivery_minutes"] > 30).to_numpy())
    split = split_by_time(assemble([rows], [], cfg), cfg)
    return cfg, split, {f: train_candidate(f, split, cfg) for f in ("xgboost", "torch_mlp")}


def typed(split, cfg: ProjectConfig) -> dict:
    return {k: split.holdout[k].to_numpy() for k in cfg.features}


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def check_sum(c, tol: str) -> None:
    gap = np.abs(c.values.sum(axis=1) + c.bias - c.raw)
    if tol == "xgboost":
        assert (gap <= XGB_TOLERANCE * np.maximum(1.0, np.abs(c.raw))).all(), gap.max()
    elif tol == "torch_mlp":
        assert (gap <= MLP_TOLERANCE * (np.abs(c.values).sum(axis=1) + 1e-3)).all(), gap.max()
    else:
        assert gap.max() < 1e-9
    assert c.values.shape == (len(c.raw), len(c.features))
    assert np.isfinite(c.values).all() and np.abs(c.values).sum() > 0  # something drove them


@pytest.mark.parametrize("family", ["xgboost", "torch_mlp"])
def test_regression_contributions_add_up_to_the_answer_in_minutes(family: str) -> None:
    cfg, split, cands = regression()
    model = load_model(cands[family].files, cfg)
    c = explain_model(model, typed(split, cfg), cfg)
    check_sum(c, family)
    assert c.scale == "delivery_minutes units" and c.features == tuple(cfg.features)
    assert np.allclose(c.raw, model.predict(split.holdout), atol=1e-4)  # the answer itself
    # distance drives an ETA: the largest mean contribution of the learned models
    assert c.features[int(np.abs(c.values).mean(axis=0).argmax())] in (
        "distance_km",
        "prep_minutes",
    )


@pytest.mark.parametrize("family", ["xgboost", "torch_mlp"])
def test_binary_contributions_add_up_to_the_log_odds(family: str) -> None:
    cfg, split, cands = binary()
    model = load_model(cands[family].files, cfg)
    c = explain_model(model, typed(split, cfg), cfg)
    check_sum(c, family)
    assert c.scale == "log-odds"
    assert np.allclose(sigmoid(c.raw), model.predict(split.holdout), atol=1e-5)


@pytest.mark.parametrize("family", ["xgboost", "torch_mlp"])
def test_multiclass_contributions_explain_the_predicted_class(family: str) -> None:
    split, _, _, cands = mc.trained()
    model = load_model(cands[family].files, mc.CFG)
    c = explain_model(model, typed(split, mc.CFG), mc.CFG)
    check_sum(c, family)
    proba = model.predict(split.holdout)
    assert (c.explained_class == proba.argmax(axis=1)).all()
    # another class on request: its own margin
    other = (c.explained_class + 1) % len(mc.CLASSES)
    o = explain_model(model, typed(split, mc.CFG), mc.CFG, other)
    check_sum(o, family)
    assert (o.explained_class == other).all()
    if family == "xgboost":  # the margins are the softmax's logits
        xgb = xgboost_module()
        frame = pd.DataFrame(feature_matrix(typed(split, mc.CFG), mc.CFG))
        frame.columns = list(feature_space(mc.CFG).columns)
        margin = model.booster.predict(
            xgb.DMatrix(frame),
            output_margin=True,
            iteration_range=(0, model.booster.best_iteration + 1),
        )
        assert np.allclose(softmax(margin), proba, atol=1e-5)
        assert np.allclose(c.raw, margin[np.arange(len(margin)), c.explained_class], atol=1e-6)


@pytest.mark.parametrize(
    "task", ["regression_eta", "regression_stump", "binary_threshold", "binary_stump", "multiclass"]
)
def test_the_baseline_rule_explains_itself_exactly(task: str) -> None:
    if task.startswith("regression"):
        cfg, split, _ = regression()
    elif task.startswith("binary"):
        cfg, split, _ = binary()
    else:
        cfg, split = mc.CFG, mc.trained()[0]
    if task.endswith("stump"):
        cfg = _stump(cfg)
    base = Baseline(cfg)
    base.fit(split.train, split.y("train"))
    c = explain_model(base, typed(split, cfg), cfg)
    check_sum(c, "rule")
    answer = base.predict(split.holdout)
    if task == "multiclass":
        assert np.allclose(c.raw, answer[np.arange(len(answer)), c.explained_class])
    else:
        assert np.allclose(c.raw, answer)
    assert c.rules is not None and all(c.rules)
    moved = c.features[int(np.abs(c.values).sum(axis=0).argmax())]
    if task == "regression_eta":  # the rule's own terms: prep + distance at 17 km/h + ...
        row = split.holdout.iloc[0]
        got = dict(zip(c.features, c.values[0], strict=True))
        assert got["distance_km"] == pytest.approx(row["distance_km"] / 17 * 60)
        assert got["prep_minutes"] == pytest.approx(row["prep_minutes"])
        assert c.bias[0] == 3 and got["cuisine"] == 0
        assert c.rules[0].startswith("eta rule: prep minutes + distance at 17 km/h")
    elif task == "binary_threshold":
        assert moved == "distance_km"
        assert set(np.round(c.values[:, c.features.index("distance_km")], 6)) <= {0.0, 0.6}
    elif task.endswith("stump") or task == "multiclass":  # one feature moves the answer
        st = base.stats["stump"]
        assert moved == st["feature"]
        assert np.count_nonzero(np.abs(c.values).sum(axis=0)) == 1
        assert c.rules[0].startswith(f"stump: {st['feature']}")


def test_one_hot_levels_and_the_hour_clock_are_summed_back_to_their_feature() -> None:
    cfg, split, cands = regression()
    model = load_model(cands["xgboost"].files, cfg)
    rows = typed(split, cfg)
    c = explain_model(model, rows, cfg)
    cols = list(feature_space(cfg).columns)
    xgb = xgboost_module()
    raw = model.booster.predict(
        xgb.DMatrix(pd.DataFrame(feature_matrix(rows, cfg), columns=cols)),
        pred_contribs=True,
        iteration_range=(0, model.booster.best_iteration + 1),
    )
    per_col = dict(zip(cols, raw[:, :-1].T, strict=True))
    cuisine = sum(v for k, v in per_col.items() if k.startswith("cuisine="))
    hour = per_col["hour"] + per_col["hour_sin"] + per_col["hour_cos"]
    assert np.allclose(c.values[:, c.features.index("cuisine")], cuisine)
    assert np.allclose(c.values[:, c.features.index("hour")], hour)
    assert len(c.features) == len(cfg.features) < len(cols)
    # the MLP's missing indicators belong to their feature
    g = owners(gaps.CFG, ["distance_km_missing", "cuisine=<missing>"])
    names = list(gaps.CFG.features)
    assert g[-2].tolist() == [float(n == "distance_km") for n in names]
    assert g[-1].tolist() == [float(n == "cuisine") for n in names]
    assert (g.sum(axis=1) == 1).all()


def test_the_mlp_with_missing_values_adds_up_with_its_indicators() -> None:
    batch = gaps.generate_orders(3000, seed=3, bad_fraction=0.0)
    raw = gaps.with_gaps(batch.orders, 0.2, seed=5)
    valid = gaps.split_valid(raw, gaps.build_contracts(gaps.CFG)).valid
    split = split_by_time(assemble([valid], [batch.labels], gaps.CFG), gaps.CFG)
    model = load_model(train_candidate("torch_mlp", split, gaps.CFG).files, gaps.CFG)
    rows = {k: split.holdout[k].to_numpy() for k in gaps.CFG.features}
    c = explain_model(model, rows, gaps.CFG)
    check_sum(c, "torch_mlp")
    assert np.allclose(c.raw, model.predict(split.holdout), atol=1e-4)


def test_the_guard_explains_each_answer_by_whoever_gave_it() -> None:
    cfg, split, cands = regression()
    env = Envelope.learn(split.train, cfg)
    base = Baseline(cfg)
    base.fit(split.train, split.y("train"))
    model = load_model(cands["xgboost"].files, cfg)
    rules = RULES.model_dump()
    capped = RulesConfig.model_validate(
        {**rules, "output": [{"name": "cap_5", "kind": "cap", "value": 5.0}]}
    )
    row = split.holdout.iloc[0].to_dict()
    row["created_at"] = str(row["created_at"])
    records = [
        row,
        {**row, "basket_size": 55},  # fallback: basket_plausible
        {**row, "distance_km": 55.0},  # rejected: outside the service area
    ]
    for rules_cfg, first in ((RULES, "model"), (capped, "corrected")):
        g = GuardedModel(model, base, cfg, rules_cfg, env, "v", "r")
        answers = g.predict_records(records)
        whys = explain_records(g, records, answers)
        assert [a["decision"] for a in answers] == [first, "fallback", "rejected"]
        assert whys[0]["explained_by"] == "xgboost" and whys[0]["method"] == "tree_shap"
        assert whys[1]["explained_by"] == "baseline" and whys[1]["rule"].startswith("eta rule")
        assert whys[2] is None
        if first == "model":  # the answer itself (rounded to tenths by the output rule)
            assert whys[0]["raw"] == pytest.approx(answers[0]["prediction"], abs=0.05)
            assert whys[1]["raw"] == pytest.approx(answers[1]["prediction"], abs=0.05)
        else:  # corrected: the model's answer before the guard capped it
            assert answers[0]["prediction"] == 5.0 < whys[0]["raw"]
        for w in whys[:2]:
            assert list(w["contributions"]) == sorted(
                w["contributions"], key=lambda k: -abs(w["contributions"][k])
            )
            total = w["bias"] + sum(w["contributions"].values())
            assert total == pytest.approx(w["raw"], abs=1e-4)
    frame = explanation_frame(whys[0])
    assert frame["feature"].tolist()[-2:] == ["(bias)", "= raw answer"]


def test_guarded_multiclass_answers_are_explained_for_their_class() -> None:
    g = mc.guarded("torch_mlp", RulesConfig.model_validate({"input": []}))
    split = mc.trained()[0]
    raw = split.holdout.head(30).copy()
    answers = g.predict(raw)
    from shared.guard.explain import explain_frame

    whys = explain_frame(g, raw, answers)
    for w, cls in zip(whys, answers["predicted_class"], strict=True):
        assert w["explained_class"] == cls and w["scale"] == "logit"
