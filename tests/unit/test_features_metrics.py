import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared.config import load_project
from shared.data.features import build_features, check_features, feature_space
from shared.model.metrics import binary_metrics, regression_metrics, roc_auc, slice_metrics

CFG = load_project(Path(__file__).resolve().parents[2] / "config" / "project.yaml")


def _rows(n=3):
    return pd.DataFrame(
        {
            "distance_km": [1.0, 2.5, 10.0][:n],
            "prep_minutes": [5.0, 10.0, 20.0][:n],
            "hour": [0, 6, 12][:n],
            "weekday": [0, 3, 6][:n],
            "courier_load": [1, 2, 3][:n],
            "rain": [True, False, True][:n],
            "cuisine": ["pizza", "sushi", "martian"][:n],
            "zone": ["center", "north", "west"][:n],
            "basket_size": [1, 2, 3][:n],
        }
    )


def test_feature_matrix_has_fixed_columns_and_one_hot() -> None:
    x = build_features(_rows(), CFG)
    assert tuple(x.columns) == feature_space(CFG).columns
    check_features(x, CFG)
    assert x.loc[0, "cuisine=pizza"] == 1 and x.loc[0, "cuisine=sushi"] == 0
    # a category outside the config's values sets no column
    assert x.loc[2, [c for c in x.columns if c.startswith("cuisine=")]].sum() == 0
    assert x.loc[0, "rain"] == 1.0 and x.loc[1, "rain"] == 0.0
    assert x.loc[2, "hour_sin"] == pytest.approx(math.sin(math.pi))
    assert x.loc[1, "hour_sin"] == pytest.approx(1.0)


def test_one_row_and_many_rows_give_the_same_features() -> None:
    rows = _rows()
    many = build_features(rows, CFG)
    for i in range(len(rows)):
        one = build_features(rows.iloc[[i]], CFG)
        pd.testing.assert_frame_equal(one, many.iloc[[i]])


def test_feature_contract_rejects_non_finite() -> None:
    x = build_features(_rows(), CFG)
    x.loc[1, "distance_km"] = np.inf
    with pytest.raises(Exception, match="finite"):
        check_features(x, CFG)


def test_regression_metrics_by_hand() -> None:
    m = regression_metrics(np.array([10, 20, 30, 40]), np.array([12, 18, 30, 50]))
    assert m["mae"] == pytest.approx((2 + 2 + 0 + 10) / 4)
    assert m["rmse"] == pytest.approx(math.sqrt((4 + 4 + 0 + 100) / 4))
    assert m["p90_abs_error"] == pytest.approx(np.quantile([2, 2, 0, 10], 0.9))


def test_binary_metrics_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    # pairs (pos, neg): (0.35>0.1) yes, (0.35>0.4) no, (0.8>0.1) yes, (0.8>0.4) yes -> 3/4
    assert roc_auc(y, p) == pytest.approx(0.75)
    m = binary_metrics(y, p, threshold=0.38)
    assert m["precision"] == pytest.approx(1 / 2) and m["recall"] == pytest.approx(1 / 2)
    expected = -np.mean([np.log(0.9), np.log(0.6), np.log(0.35), np.log(0.8)])
    assert m["log_loss"] == pytest.approx(expected)
    assert math.isnan(roc_auc(np.array([1, 1]), np.array([0.2, 0.3])))


def test_slice_metrics_per_value() -> None:
    frame = pd.DataFrame({"zone": ["a"] * 5 + ["b"] * 5})
    y = np.arange(10.0)
    p = y + np.array([1] * 5 + [3] * 5)
    s = slice_metrics("regression", frame, y, p, ["zone"])
    assert s["zone=a"]["mae"] == 1 and s["zone=b"]["mae"] == 3 and s["zone=b"]["rows"] == 5
