"""The quick tests of a column (declared text values, bounded numbers) give exactly the full
path's reasons and typed values: the same batch split with the quick tests turned off."""

import io
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config import load_project
from shared.data import rowchecks
from shared.data.contracts import build_contracts
from shared.data.generator import TYPED_KINDS, generate_orders
from shared.data.rowchecks import check_rows
from shared.data.validation import split_valid

CFG = load_project(Path(__file__).resolve().parents[2] / "config" / "project.yaml")
CONTRACTS = build_contracts(CFG, datetime(2026, 11, 1))
GAPS = build_contracts(
    CFG.model_copy(
        update={
            "features": {
                n: f.model_copy(update={"nullable": n in ("cuisine", "hour")})
                for n, f in CFG.features.items()
            }
        }
    ),
    datetime(2026, 11, 1),
)

cuisines = st.one_of(
    st.none(),
    st.sampled_from(["pizza", "sushi", " pizza", "thai\t", "", "  ", "Pizza", "klingon", "é"]),
)
hours = st.one_of(
    st.sampled_from([0.0, 23.0, 5.0, 2.5, -1.0, 24.0, np.nan, np.inf, -np.inf, 1e12, -0.0]),
    st.floats(allow_nan=True, allow_infinity=True),
)


def _full_path(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(rowchecks, "_quick", lambda *a: None)


def _same(batch: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    for contracts in (CONTRACTS, GAPS):
        specs = [s for s in contracts.columns if s.required]
        quick = split_valid(batch, contracts)
        checked = check_rows(batch, contracts, specs, unique=False)  # as monitoring does
        with monkeypatch.context() as m:
            _full_path(m)
            full = split_valid(batch, contracts)
            checked_full = check_rows(batch, contracts, specs, unique=False)
        pd.testing.assert_frame_equal(quick.valid, full.valid, check_exact=True)
        pd.testing.assert_frame_equal(quick.quarantined, full.quarantined, check_exact=True)
        pd.testing.assert_frame_equal(quick.reasons, full.reasons, check_exact=True)
        pd.testing.assert_frame_equal(checked.reasons, checked_full.reasons, check_exact=True)
        for name, typed in checked_full.typed.items():
            pd.testing.assert_series_equal(checked.typed[name], typed, check_exact=True)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(cuisines, hours), min_size=1, max_size=30),
    st.sampled_from(["object", "str", "parquet"]),
)
def test_quick_tests_give_the_full_paths_reasons(rows: list, as_: str) -> None:
    g = generate_orders(len(rows), seed=2).orders
    batch = g.assign(
        cuisine=[c for c, _ in rows],
        zone=[None if i == 1 else z for i, z in enumerate(g["zone"])],
        hour=np.array([h for _, h in rows], dtype=float),
        basket_size=g["basket_size"].astype("int32"),
        courier_load=g["courier_load"].astype("uint8"),
    )
    if as_ == "str":
        batch = batch.astype({"cuisine": "str", "zone": "str", "order_id": "str"})
    if as_ == "parquet":  # Arrow text in chunks, as a read gives it
        buf = io.BytesIO()
        batch.to_parquet(buf, row_group_size=7)
        batch = pd.read_parquet(buf)
    with pytest.MonkeyPatch.context() as mp:
        _same(batch, mp)


def test_quick_tests_on_a_generated_batch_with_every_typed_fault(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    g = generate_orders(5000, seed=4, bad_fraction=0.1, bad_kinds=TYPED_KINDS)
    path = tmp_path / "batch.parquet"
    g.orders.assign(created_at=pd.to_datetime(g.orders["created_at"])).to_parquet(path)
    batch = pd.read_parquet(path)  # Arrow text, NumPy numbers, as a Parquet read gives them
    _same(batch, monkeypatch)
    _same(batch.iloc[:0], monkeypatch)
    _same(batch.iloc[:1], monkeypatch)
