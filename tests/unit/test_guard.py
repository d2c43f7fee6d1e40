"""The guard: each rule kind, fallbacks, invariants on any input, the bundle round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.config import RulesConfig, load_project, load_rules
from shared.data.generator import generate_orders
from shared.guard import Envelope, GuardedModel, GuardedPredictions
from shared.guard.bundle import BundleError, build_bundle, load_bundle
from shared.model.conformal import calibrate
from shared.model.families import Baseline, load_model
from shared.training import generated_split, train_candidate
from tests.unit.guard_reference import predict_frame
from tests.unit.test_training import fast

REPO = Path(__file__).resolve().parents[2]
CFG = fast(load_project(REPO / "config" / "project.yaml"))
RULES = load_rules(REPO / "config" / "rules.yaml")


class ConstantModel:
    """A model that always answers the same number (to make output rules fire on purpose)."""

    family = "constant"
    device = "cpu"

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return np.full(len(rows), self.value)


class BrokenModel(ConstantModel):
    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        raise RuntimeError("model server on fire")


@pytest.fixture(scope="module")
def world():
    split = generated_split(CFG, 3000, seed=4)
    env = Envelope.learn(split.train, CFG)
    base = Baseline(CFG)
    base.fit(split.train, split.y("train"))
    xgb = train_candidate("xgboost", split, CFG)
    return split, env, base, xgb


def guarded(model, world, rules: RulesConfig = RULES) -> GuardedModel:
    _, env, base, _ = world
    return GuardedModel(model, base, CFG, rules, env, "v7", "test+rules")


def one_row(**changes) -> pd.DataFrame:
    row = generate_orders(1, seed=1).orders.iloc[0].to_dict()
    row.update(
        distance_km=3.0, prep_minutes=12.0, hour=12, basket_size=3, zone="center", cuisine="pizza"
    )
    row.update(changes)
    return pd.DataFrame([row])


def test_a_normal_row_is_answered_by_the_model(world) -> None:
    out = guarded(ConstantModel(40.0), world).predict(one_row())
    GuardedPredictions.validate(out)
    assert out.loc[0, "decision"] == "model" and out.loc[0, "prediction"] == 40.0
    assert out.loc[0, "reasons"] == "" and out.loc[0, "model_version"] == "v7"


@pytest.mark.parametrize(
    ("changes", "decision", "reason"),
    [
        ({"distance_km": 45.0}, "rejected", "distance_in_service_area"),  # range, reject
        ({"basket_size": 50}, "fallback", "basket_plausible"),  # range, fallback
        ({"prep_minutes": 95.0}, "fallback", "prep_not_stalled"),  # expression
        ({"courier_load": 39}, "fallback", "within_training_envelope"),  # envelope (numeric)
        ({"zone": "moon"}, "rejected", "schema:zone:isin"),  # the data contract
        ({"distance_km": "far"}, "rejected", "schema:distance_km:dtype('float64')"),
        ({"hour": None}, "rejected", "schema:hour:not_nullable"),
    ],
)
def test_input_rules(world, changes, decision, reason) -> None:
    out = guarded(ConstantModel(40.0), world).predict(one_row(**changes))
    assert out.loc[0, "decision"] == decision
    assert reason in out.loc[0, "reasons"].split("; ")
    if decision == "rejected":
        assert np.isnan(out.loc[0, "prediction"])
    else:
        assert np.isfinite(out.loc[0, "prediction"])


def test_allowed_rule_and_unseen_category_in_envelope(world) -> None:
    rules = RulesConfig.model_validate(
        {
            "input": [
                {
                    "name": "no_desserts",
                    "kind": "allowed",
                    "column": "cuisine",
                    "values": ["pizza"],
                    "action": "fallback",
                },
            ]
        }
    )
    out = guarded(ConstantModel(40.0), world, rules).predict(
        pd.concat([one_row(), one_row(cuisine="dessert")], ignore_index=True)
    )
    assert list(out["decision"]) == ["model", "fallback"]
    assert out.loc[1, "reasons"] == "no_desserts"


def test_output_floor_cap_and_round(world) -> None:
    # 3 km + 12 min prep: floor = 12 + 3/45*60 = 16.0
    low = guarded(ConstantModel(5.0), world).predict(one_row())
    assert low.loc[0, "decision"] == "corrected" and low.loc[0, "prediction"] == 16.0
    assert low.loc[0, "reasons"] == "faster_than_physically_possible"
    high = guarded(ConstantModel(500.0), world).predict(one_row())
    assert high.loc[0, "decision"] == "corrected" and high.loc[0, "prediction"] == 150.0
    assert high.loc[0, "reasons"] == "sla_cap"
    rounded = guarded(ConstantModel(33.333), world).predict(one_row())
    assert rounded.loc[0, "prediction"] == 33.3 and rounded.loc[0, "decision"] == "model"


def test_model_failure_falls_back_to_the_baseline(world) -> None:
    _, _, base, _ = world
    rows = one_row()
    out = guarded(BrokenModel(0), world).predict(rows)
    assert out.loc[0, "decision"] == "fallback" and out.loc[0, "reasons"] == "model_error"
    assert out.loc[0, "prediction"] == pytest.approx(round(base.predict(rows)[0], 1))
    nan = guarded(ConstantModel(np.nan), world).predict(rows)
    assert nan.loc[0, "decision"] == "fallback" and "model_non_finite" in nan.loc[0, "reasons"]


def test_missing_columns_reject_every_row_without_raising(world) -> None:
    out = guarded(ConstantModel(40.0), world).predict(one_row().drop(columns=["zone", "rain"]))
    assert out.loc[0, "decision"] == "rejected"
    assert "schema:zone:not_nullable" in out.loc[0, "reasons"]


def test_bundle_round_trip_gives_identical_predictions(world) -> None:
    split, env, base, xgb = world
    data = build_bundle(xgb.files, base.to_files(), CFG, RULES, env, "v7", "xgboost", "abc")
    g1 = load_bundle(data)
    direct = GuardedModel(g1.model, base, CFG, RULES, env, "v7", g1.rules_version)
    a = g1.predict(split.holdout)
    b = load_bundle(data).predict(split.holdout)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, direct.predict(split.holdout))
    assert (a["decision"] == "model").mean() > 0.9
    tampered = data.replace(b'"sla_cap"', b'"sla_caq"')
    with pytest.raises(BundleError):
        load_bundle(tampered if tampered != data else data[:100])


anything = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.text(max_size=6),
    st.booleans(),
    st.sampled_from(["pizza", "center", "2026-10-02T10:00:00", "nan", "", "1e400"]),
)
COLUMNS = list(generate_orders(1, seed=1).orders.columns)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    n=st.integers(min_value=0, max_value=30),
    edits=st.lists(st.tuples(st.integers(0, 29), st.sampled_from(COLUMNS), anything), max_size=30),
    dropped=st.lists(st.sampled_from(COLUMNS), unique=True, max_size=3),
    model_value=st.sampled_from([40.0, -5.0, 1e9, np.nan]),
)
def test_any_frame_gets_one_decision_per_row_and_invariants_hold(
    world, n, edits, dropped, model_value
) -> None:
    base = generate_orders(max(n, 1), seed=2).orders.head(n).astype(object)
    for row, col, value in edits:
        if row < n:
            base.iat[row, base.columns.get_loc(col)] = value
    frame = base.drop(columns=dropped)
    out = guarded(ConstantModel(model_value), world).predict(frame)
    GuardedPredictions.validate(out)
    assert len(out) == n
    answered = out["decision"] != "rejected"
    p = out["prediction"]
    assert np.isfinite(p[answered]).all() and p[~answered].isna().all()
    assert (p[answered] <= 150.0).all()
    # the floor: never faster than physically possible (where the inputs are usable)
    ok = out.index[answered]
    if len(ok):
        typed = frame.loc[ok, ["prep_minutes", "distance_km"]].apply(pd.to_numeric, errors="coerce")
        floor = typed["prep_minutes"] + typed["distance_km"] / 45 * 60
        assert (p[ok] >= floor.clip(upper=150.0) - 0.05).all()


def test_constant_expressions_hold_for_every_row(world) -> None:
    rules = RulesConfig.model_validate(
        {
            "input": [{"name": "always", "kind": "expression", "expr": "True"}],
            "output": [{"name": "at_least_25", "kind": "floor", "expr": "25"}],
        }
    )
    rows = pd.concat([one_row(), one_row(distance_km=9.0)], ignore_index=True)
    low = guarded(ConstantModel(5.0), world, rules).predict(rows)
    assert list(low["prediction"]) == [25.0, 25.0]
    assert list(low["decision"]) == ["corrected", "corrected"]
    assert list(low["reasons"]) == ["at_least_25", "at_least_25"]
    high = guarded(ConstantModel(40.0), world, rules).predict(rows)
    assert list(high["decision"]) == ["model", "model"] and list(high["prediction"]) == [40, 40]


def test_binary_output_rules_act_on_the_probability_and_give_a_class(world) -> None:
    from tests.unit.test_training import binary_config

    _, env, _, _ = world
    cfg = binary_config()
    rules = RulesConfig.model_validate(
        {
            "input": [
                {
                    "name": "near",
                    "kind": "range",
                    "column": "distance_km",
                    "max": 40,
                    "action": "reject",
                }
            ],
            "output": [
                {"name": "not_certain", "kind": "cap", "value": 0.9},
                {"name": "never_zero", "kind": "floor", "expr": "0.05"},
                {"name": "two_decimals", "kind": "round", "decimals": 2},
            ],
        }
    )

    def answer(p: float, threshold: float = 0.5, **changes) -> pd.Series:
        c = cfg.model_copy(
            update={"training": cfg.training.model_copy(update={"threshold": threshold})}
        )
        g = GuardedModel(ConstantModel(p), ConstantModel(0.5), c, rules, env, "v1", "r")
        out = g.predict(one_row(**changes))
        GuardedPredictions.validate(out)
        return out.iloc[0]

    high = answer(0.97)
    assert high["prediction"] == 0.9 and high["decision"] == "corrected"
    assert high["reasons"] == "not_certain" and bool(high["predicted_class"]) is True
    low = answer(0.01)
    assert low["prediction"] == 0.05 and low["reasons"] == "never_zero"
    assert bool(low["predicted_class"]) is False
    assert bool(answer(0.01, threshold=0.04)["predicted_class"]) is True
    mid = answer(0.333)
    assert mid["prediction"] == 0.33 and mid["decision"] == "model"
    rejected = answer(0.7, distance_km=45.0)
    assert rejected["decision"] == "rejected" and pd.isna(rejected["predicted_class"])


def test_a_bundle_whose_rules_do_not_fit_its_project_does_not_load(world) -> None:
    _, env, base, xgb = world
    rules = RulesConfig.model_validate(
        {"input": [{"name": "miles", "kind": "range", "column": "distance_miles", "max": 9}]}
    )
    data = build_bundle(xgb.files, base.to_files(), CFG, rules, env, "v7", "xgboost", "abc")
    with pytest.raises(BundleError, match="bundle v7 rules.json.*rule 'miles'.*distance_miles"):
        load_bundle(data)


# -- the compiled plan agrees with the frame path ---------------------------------------------
SOME_RULES = RulesConfig.model_validate(
    {
        "input": [
            {"name": "no_desserts", "kind": "allowed", "column": "cuisine", "values": ["pizza"]},
            {"name": "busy", "kind": "expression", "expr": "courier_load * 2 < 70 + hour"},
            {"name": "calm", "kind": "expression", "expr": "(rain == True) | (hour > 3)"},
            {"name": "always", "kind": "expression", "expr": "True"},
            {"name": "envelope", "kind": "envelope", "margin": 0.1, "action": "reject"},
        ],
        "output": [
            {"name": "floor_const", "kind": "floor", "expr": "25"},
            {"name": "floor_sqrt", "kind": "floor", "expr": "sqrt(abs(distance_km)) * 9"},
            {"name": "cap", "kind": "cap", "value": 120},
            {"name": "round", "kind": "round", "decimals": 2},
        ],
    }
)
INTERVAL_RULE = RulesConfig.model_validate(
    {"input": [{"name": "too_unsure", "kind": "interval", "max_width": 9.0}]}
).input[0]


@pytest.fixture(scope="module")
def calibration(world):
    split, _, base, xgb = world
    model = load_model(xgb.files, CFG)
    return calibrate(model, base, split.validation, split.y("validation"), CFG)


number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**6), max_value=10**6).map(float),
)


def assert_paths_agree(g: GuardedModel, frame: pd.DataFrame) -> None:
    """The plan (frames and row dicts) gives the frame path's predictions, decisions, reasons."""
    reference = predict_frame(g, frame)
    pd.testing.assert_frame_equal(g.predict(frame), reference)
    records = g.predict_records(frame.to_dict("records"))
    assert [r["decision"] for r in records] == reference["decision"].tolist()
    assert [r["reasons"] for r in records] == [
        [x for x in s.split("; ") if x] for s in reference["reasons"]
    ]
    expected = [None if np.isnan(p) else p for p in reference["prediction"]]
    assert [r["prediction"] for r in records] == expected
    for bound in ("interval_low", "interval_high"):  # calibrated bundles: the intervals too
        want = [None if np.isnan(v) else v for v in reference.get(bound, [])]
        assert [r[bound] for r in records if bound in r] == want
    assert [r["row_id"] for r in records] == reference["row_id"].tolist()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    n=st.integers(min_value=0, max_value=25),
    typed=st.booleans(),
    edits=st.lists(st.tuples(st.integers(0, 24), st.sampled_from(COLUMNS), anything), max_size=25),
    numeric_edits=st.lists(
        st.tuples(
            st.integers(0, 24),
            st.sampled_from(["distance_km", "prep_minutes", "courier_load", "basket_size"]),
            number,
        ),
        max_size=12,
    ),
    dropped=st.lists(st.sampled_from(COLUMNS), unique=True, max_size=2),
    model=st.sampled_from(["xgboost", "broken", 40.0, -5.0, 1e9, np.nan]),
    some_rules=st.booleans(),
    calibrated=st.booleans(),
)
def test_the_compiled_plan_and_the_frame_path_agree_on_any_rows(
    world, calibration, n, typed, edits, numeric_edits, dropped, model, some_rules, calibrated
) -> None:
    orders = generate_orders(max(n, 1), seed=5, bad_fraction=0.1).orders.head(n)
    if typed:  # typed columns (the fast paths), numbers edited in place
        frame = orders.assign(created_at=pd.to_datetime(orders["created_at"], errors="coerce"))
        for c in ("courier_load", "basket_size"):
            frame[c] = frame[c].astype(float)
        for row, col, value in numeric_edits:
            if row < n:
                frame.iat[row, frame.columns.get_loc(col)] = value
    else:  # anything anywhere (object columns: the contract's full coercion)
        frame = orders.astype(object)
        for row, col, value in edits:
            if row < n:
                frame.iat[row, frame.columns.get_loc(col)] = value
    frame = frame.drop(columns=dropped)
    _, env, base, xgb = world
    if model == "xgboost":
        m = load_model(xgb.files, CFG)
    else:
        m = BrokenModel(0) if model == "broken" else ConstantModel(model)
    rules = SOME_RULES if some_rules else RULES
    cal = calibration if calibrated else None
    if calibrated and some_rules:  # and the interval rule
        rules = rules.model_copy(update={"input": [*rules.input, INTERVAL_RULE]})
    assert_paths_agree(GuardedModel(m, base, CFG, rules, env, "v7", "r+1", cal), frame)


def test_the_plan_and_the_frame_path_agree_on_a_large_batch_with_xgboost(world) -> None:
    split, env, base, xgb = world
    orders = generate_orders(5000, seed=6, bad_fraction=0.05, drift=1.0).orders
    typed = orders.assign(created_at=pd.to_datetime(orders["created_at"], errors="coerce"))
    cal = calibrate(load_model(xgb.files, CFG), base, split.validation, split.y("validation"), CFG)
    with_interval = SOME_RULES.model_copy(update={"input": [*SOME_RULES.input, INTERVAL_RULE]})
    for frame in (orders, typed):
        for rules, c in ((RULES, None), (SOME_RULES, None), (with_interval, cal)):
            m = load_model(xgb.files, CFG)
            g = GuardedModel(m, base, CFG, rules, env, "v7", "r+1", c)
            out = g.predict(frame)
            pd.testing.assert_frame_equal(out, predict_frame(g, frame))
            assert set(out["decision"]) >= {"model", "rejected", "fallback"}
            assert ("interval_low" in out) == (c is not None)


def test_row_ids_of_any_type_agree_between_paths(world) -> None:
    frame = pd.concat([one_row(order_id=v) for v in ("a-1", None, np.nan, 5, 5.5, True)])
    assert_paths_agree(guarded(ConstantModel(40.0), world), frame.reset_index(drop=True))


def test_a_json_request_row_takes_the_fast_path_for_every_feature(world) -> None:
    """A row as the service receives it (JSON: ISO text, numbers, true/false) passes every
    column's contract without the full coercion, with the answer the frame path gives."""
    import json

    from shared.data.contracts import build_contracts
    from shared.data.fastcheck import fast_check
    from shared.guard.rows import records_columns

    row = one_row().assign(rain=True).iloc[0].to_dict()
    record = json.loads(json.dumps(row, default=str))
    contracts = build_contracts(CFG)
    cols = records_columns([record], list(CFG.features))
    slow = [n for n in CFG.features if fast_check(contracts, n).typed(cols.get(n), 1) is None]
    assert slow == [], f"columns of a JSON row that take the full coercion: {slow}"
    g = guarded(load_model(world[3].files, CFG), world)
    answer = g.predict_records([record])[0]
    frame = g.predict(pd.DataFrame([record]))
    assert answer["decision"] == frame["decision"].iloc[0] == "model"
    assert answer["prediction"] == pytest.approx(frame["prediction"].iloc[0])
