"""Conformal intervals: coverage on held-out data, the interval rule, the bundle, binary sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shared.config import RulesConfig
from shared.guard import Envelope, GuardedModel, GuardedPredictions
from shared.guard.bundle import BundleError, build_bundle, load_bundle
from shared.model.conformal import (
    CALIBRATION_FILE,
    Calibration,
    calibrate,
    conformal_quantile,
    empirical_coverage,
)
from shared.model.families import Baseline, load_model
from shared.training import generated_split, train_candidate
from tests.unit.test_guard import CFG, RULES, ConstantModel, one_row


def with_interval_rule(max_width: float, rules: RulesConfig = RULES) -> RulesConfig:
    rule = {"name": "too_unsure", "kind": "interval", "max_width": max_width}
    return RulesConfig.model_validate(
        {**rules.model_dump(), "input": [*rules.model_dump()["input"], rule]}
    )


@pytest.fixture(scope="module")
def trained():
    """XGBoost trained through train_candidate (rules and envelope: the flow's path), so its
    files carry the calibration the bundle takes."""
    split = generated_split(CFG, 12000, seed=3)
    env = Envelope.learn(split.train, CFG)
    c = train_candidate("xgboost", split, CFG, RULES, env)
    base = Baseline(CFG)
    base.fit(split.train, split.y("train"))
    return split, env, base, c


def fresh_rows(n: int, seed: int) -> pd.DataFrame:
    """Labelled rows the model never saw (another generator seed), as ingest validates them."""
    s = generated_split(CFG, n, seed=seed)
    return pd.concat([s.train, s.validation, s.holdout], ignore_index=True)


def test_coverage_on_held_out_generated_data_is_within_two_points_of_nominal(trained) -> None:
    split, env, base, c = trained
    assert CALIBRATION_FILE in c.files
    g = GuardedModel(
        load_model(c.files, CFG),
        base,
        CFG,
        RULES,
        env,
        "v1",
        "r",
        Calibration.from_json(c.files[CALIBRATION_FILE]),
    )
    rows = fresh_rows(30000, seed=99)
    out = g.predict(rows)
    GuardedPredictions.validate(out)
    y = rows[CFG.target].to_numpy(dtype=float)
    coverage = empirical_coverage(
        y, out["interval_low"].to_numpy(), out["interval_high"].to_numpy()
    )
    print(f"empirical coverage {coverage:.4f} on {len(rows)} rows (nominal 0.90)")
    assert abs(coverage - 0.90) <= 0.02
    answered = out["decision"] != "rejected"
    assert (out.loc[answered, "interval_low"] <= out.loc[answered, "prediction"]).all()
    assert (out.loc[answered, "prediction"] <= out.loc[answered, "interval_high"]).all()
    assert out.loc[~answered, ["interval_low", "interval_high"]].isna().all().all()
    width = (out["interval_high"] - out["interval_low"])[out["decision"] == "model"]
    assert width.quantile(0.9) > 1.2 * width.quantile(0.1)  # wider where less certain


def test_the_interval_rule_falls_back_when_the_interval_is_too_wide(trained) -> None:
    split, env, base, c = trained
    cal = Calibration.from_json(c.files[CALIBRATION_FILE])
    model = load_model(c.files, CFG)
    rows = split.holdout
    plain = GuardedModel(model, base, CFG, RULES, env, "v1", "r", cal).predict(rows)
    widths = (plain["interval_high"] - plain["interval_low"])[plain["decision"] == "model"]
    limit = float(widths.quantile(0.8))
    out = GuardedModel(model, base, CFG, with_interval_rule(limit), env, "v1", "r", cal).predict(
        rows
    )
    fired = out["reasons"].str.contains("too_unsure")
    assert 0.05 < fired.mean() < 0.4
    assert (out.loc[fired, "decision"] == "fallback").all()
    # the baseline answered those rows, with its own (wider) interval
    baseline_answer = base.predict(rows[fired.to_numpy()])
    assert np.allclose(out.loc[fired, "prediction"], np.round(baseline_answer, 1), atol=25)
    assert (
        (out["interval_high"] - out["interval_low"])[~fired & (out["decision"] == "model")]
        <= limit + 1e-9
    ).all()
    # a constant model: every answer has the same width, so the rule fires on all or none
    one = one_row()
    wide = GuardedModel(
        ConstantModel(200.0), base, CFG, with_interval_rule(5.0), env, "v", "r", cal
    )
    assert wide.predict(one).loc[0, "decision"] == "fallback"
    narrow = GuardedModel(
        ConstantModel(40.0), base, CFG, with_interval_rule(500.0), env, "v", "r", cal
    )
    assert narrow.predict(one).loc[0, "decision"] == "model"


def test_the_bundle_carries_the_calibration_and_older_bundles_still_load(trained) -> None:
    split, env, base, c = trained
    files = {k: v for k, v in c.files.items() if k != CALIBRATION_FILE}
    args = (base.to_files(), CFG, RULES, env, "v7", "xgboost", "abc")
    new = load_bundle(build_bundle(files, *args, c.files[CALIBRATION_FILE]))
    out = new.predict(split.holdout)
    assert {"interval_low", "interval_high"} <= set(out.columns)
    assert "interval_low" in new.predict_records(split.holdout.head(1).to_dict("records"))[0]
    old = load_bundle(build_bundle(files, *args))  # a bundle from before intervals
    legacy = old.predict(split.holdout)
    GuardedPredictions.validate(legacy)
    assert (
        "interval_low" not in legacy
        and "interval_low" not in old.predict_records(split.holdout.head(1).to_dict("records"))[0]
    )
    pd.testing.assert_series_equal(legacy["prediction"], out["prediction"])
    # an interval rule needs a calibrated model: refused in one line, not "fallback on every row"
    ruled = (base.to_files(), CFG, with_interval_rule(10.0), env, "v7", "xgboost", "abc")
    with pytest.raises(
        BundleError, match="rule 'too_unsure' \\(interval\\) needs intervals.*retrain"
    ):
        build_bundle(files, *ruled)
    assert load_bundle(build_bundle(files, *ruled, c.files[CALIBRATION_FILE])).calibration


def test_binary_answers_get_a_prediction_set_at_the_coverage() -> None:
    from shared.training import assemble, split_by_time
    from tests.unit.test_training import binary_config, late_rows

    cfg = binary_config()
    split = split_by_time(assemble([late_rows(8000, 5)], [], cfg), cfg)
    env = Envelope.learn(split.train, cfg)
    rules = RulesConfig()
    c = train_candidate("xgboost", split, cfg, rules, env)
    base = Baseline(cfg)
    base.fit(split.train, split.y("train"))
    cal = Calibration.from_json(c.files[CALIBRATION_FILE])
    g = GuardedModel(load_model(c.files, cfg), base, cfg, rules, env, "v", "r", cal)
    held = assemble([late_rows(8000, 17)], [], cfg)
    out = g.predict(held)
    GuardedPredictions.validate(out)
    sets = set(zip(out["interval_low"], out["interval_high"], strict=True))
    sizes = float((out["interval_high"] - out["interval_low"]).mean())
    assert sets <= {(0.0, 0.0), (1.0, 1.0), (0.0, 1.0)}
    cls = out["predicted_class"].astype(float)
    assert ((out["interval_low"] <= cls) & (cls <= out["interval_high"])).all()
    y = held[cfg.target].to_numpy(dtype=float)
    coverage = empirical_coverage(
        y, out["interval_low"].to_numpy(), out["interval_high"].to_numpy()
    )
    print(f"binary prediction sets: coverage {coverage:.4f}, both classes on {sizes:.1%}")
    assert coverage >= 0.90 - 0.02


def test_too_few_calibration_rows_give_no_intervals_rather_than_infinite_ones() -> None:
    assert conformal_quantile(np.arange(5.0), 0.9) == np.inf
    assert conformal_quantile(np.arange(1.0, 101.0), 0.9) == 91.0  # ceil(101 * 0.9) = 91st
    split = generated_split(CFG, 3000, seed=4)
    base = Baseline(CFG)
    base.fit(split.train, split.y("train"))
    assert calibrate(base, base, split.validation.head(12), split.y("validation")[:12], CFG) is None
