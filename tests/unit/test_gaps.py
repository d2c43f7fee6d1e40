"""Nullable features (issue 29): gaps kept by ingest's validation, taken by XGBoost as
missing, imputed by the MLP with training's statistics, routed by the stump, and decided
per row by the guard (the contract, the envelope, the ``required`` rule)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared.config import ConfigError, RulesConfig, check_rules, load_project, load_rules
from shared.data.contracts import build_contracts
from shared.data.generator import generate_orders
from shared.data.validation import split_valid
from shared.guard import Envelope, GuardedModel
from shared.model.families import Baseline, learn_stump, load_model
from shared.model.impute import Imputer
from shared.training import split_by_time, train_candidate
from shared.training.inputs import assemble
from tests.unit.test_training import fast

REPO = Path(__file__).resolve().parents[2]
BASE = load_project(REPO / "config" / "project.yaml")
NULLABLE = ("distance_km", "courier_load", "rain", "cuisine")


def gappy_config(**changes):
    data = BASE.model_dump()
    for name in NULLABLE:
        data["features"][name]["nullable"] = True
    from shared.config import ProjectConfig

    return fast(ProjectConfig.model_validate(data), **changes)


CFG = gappy_config()
RULES = load_rules(REPO / "config" / "rules.yaml")


def with_gaps(orders: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """``orders`` with a share of each nullable feature's values missing (seeded)."""
    rng = np.random.default_rng(seed)
    out = orders.copy()
    for name in NULLABLE:
        gap = rng.random(len(out)) < share
        out[name] = out[name].astype(object).where(~gap, None)
    return out


@pytest.fixture(scope="module")
def split():
    batch = generate_orders(4000, seed=3, bad_fraction=0.0)
    raw = with_gaps(batch.orders, 0.1, seed=5)
    result = split_valid(raw, build_contracts(CFG))
    assert result.rows_quarantined == 0  # every gap is in a nullable feature
    return split_by_time(assemble([result.valid], [batch.labels], CFG), CFG)


def test_validation_keeps_gaps_of_nullable_features_only() -> None:
    raw = with_gaps(generate_orders(400, seed=2, bad_fraction=0.0).orders, 0.2, seed=1)
    raw.loc[3, "zone"] = None  # not nullable
    raw.loc[4, "hour"] = None  # not nullable
    result = split_valid(raw, build_contracts(CFG))
    assert result.rows_valid == 398
    reasons = result.reasons[["row", "column", "check"]].values.tolist()
    assert reasons == [[3, "zone", "not_nullable"], [4, "hour", "not_nullable"]]
    valid = result.valid
    assert all(valid[n].isna().sum() > 40 for n in NULLABLE)
    assert str(valid["courier_load"].dtype) == "Int64" and str(valid["rain"].dtype) == "boolean"
    # the same rows against the project without nullable features: every gap quarantined
    assert split_valid(raw, build_contracts(BASE)).rows_valid < 200


def test_config_hashes_of_projects_without_the_new_fields_are_unchanged() -> None:
    # the shipped files hash as before nullable features and required rules existed. The
    # demo's project hash was 35bdee32d45d8058 until issue 25 moved `app: {dev_mode: true}`
    # out of project.yaml (into roles.yaml): that section, and only it, left the hash
    assert BASE.config_hash() == "6443acc879d751c8"
    assert RULES.rules_hash() == "e740e6978d7242c3"
    assert CFG.config_hash() != BASE.config_hash()


@pytest.mark.parametrize("family", ["baseline", "xgboost", "torch_mlp"])
def test_every_family_trains_on_gaps_and_answers_them(family: str, split) -> None:
    c = train_candidate(family, split, CFG)
    model = load_model(c.files, CFG)
    holdout = split.holdout
    assert holdout["distance_km"].isna().any() and holdout["cuisine"].isna().any()
    p = model.predict(holdout)
    assert np.isfinite(p).all() and 0 < c.metrics["mae"] < 15, c.metrics
    np.testing.assert_allclose(p, load_model(c.files, CFG).predict(holdout), rtol=1e-6)
    if family == "torch_mlp":
        import json

        impute = json.loads(c.files["meta.json"])["impute"]
        gaps = {g["feature"]: g for g in impute}
        assert set(gaps) == set(NULLABLE)
        assert gaps["cuisine"]["kind"] == "category" and gaps["rain"]["kind"] == "number"
        median = float(np.nanmedian(split.train["distance_km"].to_numpy(dtype=float)))
        assert gaps["distance_km"]["fill"] == [pytest.approx(median)]


def test_imputer_fills_with_training_statistics_and_flags_each_gap() -> None:
    from shared.data.features import feature_matrix, feature_space

    rows = {
        **{n: np.array([0.0, 0.0, 0.0]) for n in CFG.features},
        "distance_km": np.array([1.0, np.nan, 5.0]),
        "rain": np.array([True, None, False], dtype=object),
        "cuisine": np.array(["pizza", None, "thai"], dtype=object),
        "zone": np.array(["north"] * 3, dtype=object),
    }
    x = feature_matrix(rows, CFG)
    imp = Imputer.learn(x, CFG)
    assert imp is not None and Imputer.learn(x, BASE) is None
    out = imp.apply(x)
    cols = list(feature_space(CFG).columns) + imp.extra
    frame = pd.DataFrame(out, columns=cols)
    assert frame["distance_km"].tolist() == [1.0, 3.0, 5.0]
    assert frame["distance_km_missing"].tolist() == [0.0, 1.0, 0.0]
    assert frame["cuisine=<missing>"].tolist() == [0.0, 1.0, 0.0]
    assert frame.loc[1, [c for c in cols if c.startswith("cuisine=")]].sum() == 1.0
    assert np.isfinite(out).all()


def test_stump_routes_missing_values_to_the_better_side() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    x = rng.uniform(0, 10, n)
    y = np.where(x > 5, 40.0, 10.0) + rng.normal(0, 1, n)
    gap = rng.random(n) < 0.2
    y[gap] = 41.0  # rows without the value behave like the right side
    rows = pd.DataFrame({name: np.zeros(n) for name in CFG.features})
    rows["distance_km"] = np.where(gap, np.nan, x)
    for name in ("cuisine", "zone"):
        rows[name] = CFG.features[name].values[0]
    stump = learn_stump(rows, y, CFG)
    assert stump["feature"] == "distance_km" and stump["missing"] == "right"
    base = Baseline(gappy_config(baseline__rule="stump", baseline__params={}), {"stump": stump})
    p = base.predict(pd.DataFrame({"distance_km": [1.0, None, 9.0]}, dtype=object))
    assert p[1] == p[2] != p[0]


def test_the_required_rule_names_features_of_the_project() -> None:
    bad = RulesConfig.model_validate(
        {"input": [{"name": "need", "kind": "required", "columns": ["nope"]}]}
    )
    with pytest.raises(ConfigError, match="'nope'"):
        check_rules(bad, CFG, "rules.yaml")
    with pytest.raises(ValueError, match="needs 'columns'"):
        RulesConfig.model_validate({"input": [{"name": "need", "kind": "required"}]})


def test_guard_decides_per_row_on_gaps(split) -> None:
    rules = RulesConfig.model_validate(
        {
            **RULES.model_dump(),
            "input": [
                *RULES.model_dump()["input"],
                {
                    "name": "need_zone",
                    "kind": "required",
                    "columns": ["zone"],
                    "action": "fallback",
                },
                {"name": "need_rain", "kind": "required", "columns": ["rain"], "action": "reject"},
            ],
        }
    )
    env = Envelope.learn(split.train, CFG)
    assert "nan" not in env.categories["cuisine"] and "None" not in env.categories["cuisine"]
    base = Baseline(CFG)
    base.fit(split.train, split.y("train"))
    xgb = load_model(train_candidate("xgboost", split, CFG).files, CFG)
    g = GuardedModel(xgb, base, CFG, rules, env, "v1", "r1")
    row = {
        "order_id": "a",
        "distance_km": 3.2,
        "prep_minutes": 12.0,
        "hour": 12,
        "weekday": 2,
        "courier_load": 5,
        "rain": True,
        "cuisine": "pizza",
        "zone": "north",
        "basket_size": 3,
    }
    gap = {**row, "order_id": "b", "distance_km": None, "cuisine": None, "courier_load": None}
    absent = {k: v for k, v in gap.items() if k not in ("distance_km", "cuisine")}
    no_zone = {**row, "order_id": "c", "zone": None}
    no_hour = {k: v for k, v in row.items() if k != "hour"}
    no_rain = {**row, "rain": None}
    answers = g.predict_records([row, gap, {**absent, "order_id": "d"}, no_zone, no_hour, no_rain])
    got = [(a["decision"], a["reasons"]) for a in answers]
    assert got[0] == ("model", []) and got[1] == ("model", []) and got[2] == ("model", [])
    assert answers[1]["prediction"] == pytest.approx(answers[2]["prediction"])
    assert got[3] == ("fallback", ["need_zone:zone"]) and answers[3]["prediction"] is not None
    assert got[4] == ("rejected", ["schema:hour:not_nullable"])
    assert got[5] == ("rejected", ["need_rain:rain"])
    # the frame path (batch scoring) decides the same
    frame = g.predict(pd.DataFrame([row, gap, no_zone, no_hour, no_rain]))
    assert frame["decision"].tolist() == ["model", "model", "fallback", "rejected", "rejected"]


def test_drift_monitoring_watches_each_nullable_features_missing_share(split) -> None:
    from shared.model.drift import ReferenceProfile, reference_profile
    from shared.monitor.checks import check_data_drift, check_missing_share

    ref = reference_profile(split.train, CFG)
    assert set(ref.missing) == set(NULLABLE)
    assert ref.missing["cuisine"].share == pytest.approx(0.1, abs=0.03)
    assert "nan" not in ref.categorical["cuisine"].shares
    assert ReferenceProfile.from_dict(ref.to_dict()) == ref
    assert "missing" not in reference_profile(split.train.dropna(), BASE).to_dict()
    m = CFG.monitoring
    calm = check_missing_share("cuisine", ref, split.holdout, m)
    assert calm is not None and calm.verdict == "ok", calm
    assert check_missing_share("zone", ref, split.holdout, m) is None
    half = np.arange(len(split.holdout)) % 2 == 0
    gappy = split.holdout.assign(cuisine=split.holdout["cuisine"].where(half, None))
    moved = check_missing_share("cuisine", ref, gappy, m)
    assert moved.verdict == "alert" and moved.name == "missing:cuisine", moved
    assert "missing in 5" in moved.detail
    # the feature's distribution is judged on the rows that have it: no drift from the gaps
    assert check_data_drift("cuisine", ref, gappy, m).verdict == "ok"


def test_the_holdout_with_gaps_is_answered_by_the_model_and_the_bundle_keeps_the_imputer(
    split,
) -> None:
    from shared.guard.bundle import build_bundle, load_bundle

    env = Envelope.learn(split.train, CFG)
    base = Baseline(CFG)
    base.fit(split.train, split.y("train"))
    c = train_candidate("torch_mlp", split, CFG)
    mlp = load_model(c.files, CFG)
    g = GuardedModel(mlp, base, CFG, RULES, env, "v1", "r1")
    out = g.predict(split.holdout)
    gaps = split.holdout[list(NULLABLE)].isna().any(axis=1).to_numpy()
    assert gaps.sum() > 100
    assert (out.loc[gaps, "decision"] != "rejected").all()
    assert (out.loc[gaps, "decision"] == "model").mean() > 0.8, out["reasons"].value_counts()
    bundle = build_bundle(c.files, base.to_files(), CFG, RULES, env, "v1", "torch_mlp", None)
    loaded = load_bundle(bundle)
    assert loaded.model.imputer == mlp.imputer is not None
    again = loaded.predict(split.holdout)
    np.testing.assert_allclose(
        again["prediction"].to_numpy(), out["prediction"].to_numpy(), rtol=1e-5
    )
