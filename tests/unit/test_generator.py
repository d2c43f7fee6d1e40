import numpy as np
import pandas as pd

from shared.data.generator import BAD_KINDS, generate_orders


def test_same_seed_same_batch_and_labels_come_separately() -> None:
    a = generate_orders(500, seed=3)
    b = generate_orders(500, seed=3)
    pd.testing.assert_frame_equal(a.orders, b.orders)
    pd.testing.assert_frame_equal(a.labels, b.labels)
    assert "delivery_minutes" not in a.orders.columns
    assert list(a.labels["order_id"]) == list(a.orders["order_id"])
    assert not generate_orders(500, seed=4).orders.equals(a.orders)


def test_orders_are_realistic() -> None:
    g = generate_orders(5000, seed=1)
    o, y = g.orders, g.labels["delivery_minutes"]
    assert o["order_id"].is_unique
    assert o["hour"].between(0, 23).all() and o["weekday"].between(0, 6).all()
    assert (o["distance_km"] > 0).all() and (o["prep_minutes"] > 0).all()
    # lunch and dinner are busier than 4 am
    assert (o["hour"] == 12).sum() > 5 * (o["hour"] == 4).sum()
    assert 10 < y.median() < 60 and (y > o["prep_minutes"]).all()
    ts = pd.to_datetime(o["created_at"])
    assert ts.is_monotonic_increasing
    assert (o["weekday"] == ts.dt.day_of_week).all()
    # longer trips take longer
    assert np.corrcoef(o["distance_km"], y)[0, 1] > 0.4


def test_bad_fraction_and_kinds() -> None:
    g = generate_orders(10000, seed=2, bad_fraction=0.05)
    assert len(g.bad_rows) == 500
    assert set(g.bad_rows["kind"]) == set(BAD_KINDS)
    assert len(BAD_KINDS) >= 15


def test_drift_shifts_the_world() -> None:
    base = generate_orders(5000, seed=5).orders
    drifted = generate_orders(5000, seed=5, drift=1.0).orders
    assert drifted["distance_km"].median() > 1.3 * base["distance_km"].median()
    assert drifted["rain"].mean() > base["rain"].mean() + 0.2


def test_corrupted_rows_are_exactly_the_quarantined_ones() -> None:
    from datetime import datetime
    from pathlib import Path

    from shared.config import load_project
    from shared.data.contracts import build_contracts
    from shared.data.validation import split_valid

    cfg = load_project(Path(__file__).resolve().parents[2] / "config" / "project.yaml")
    g = generate_orders(4000, seed=8, bad_fraction=0.1)
    result = split_valid(g.orders, build_contracts(cfg, datetime(2026, 11, 1)))
    assert set(result.quarantined["_row"]) == set(g.bad_rows["row"])
