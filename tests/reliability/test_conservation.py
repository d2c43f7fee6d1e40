"""Rows in = rows valid + rows quarantined, whatever arrives."""

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.config import load_project
from shared.data.contracts import build_contracts
from shared.data.generator import generate_orders
from shared.data.validation import split_valid

CFG = load_project(Path(__file__).resolve().parents[2] / "config" / "project.yaml")
CONTRACTS = build_contracts(CFG, datetime(2026, 11, 1))
BASE = generate_orders(60, seed=9).orders

anything = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.text(max_size=8),
    st.booleans(),
    st.sampled_from(["burger", "center", "2026-10-02T10:00:00", "nan", "", " 3 ", "1e400"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=1, max_value=60),
    edits=st.lists(
        st.tuples(st.integers(0, 59), st.sampled_from(list(BASE.columns)), anything), max_size=40
    ),
)
def test_every_row_is_accepted_or_quarantined_with_a_reason(n, edits) -> None:
    df = BASE.head(n).astype(object).copy()
    for row, col, value in edits:
        if row < n:
            df.iat[row, df.columns.get_loc(col)] = value
    result = split_valid(df, CONTRACTS)
    assert result.rows_in == n == result.rows_valid + result.rows_quarantined
    q_rows = set(result.quarantined["_row"])
    assert q_rows == set(result.reasons["row"])  # every quarantined row has a reason
    assert len(q_rows) == result.rows_quarantined
    # valid rows are exactly the rows without reasons, in order, and fit the contract
    keep = [i for i in range(n) if i not in q_rows]
    assert list(result.valid["order_id"]) == [str(df.iloc[i]["order_id"]).strip() for i in keep]
    CONTRACTS.validated.validate(result.valid)


@settings(max_examples=40, deadline=None)
@given(columns=st.lists(st.sampled_from(list(BASE.columns)), unique=True, min_size=1, max_size=4))
def test_dtype_chaos_never_loses_rows(columns) -> None:
    df = BASE.copy()
    for col in columns:
        df[col] = np.where(np.arange(len(df)) % 3 == 0, "???", df[col].astype(str))
    result = split_valid(pd.DataFrame(df), CONTRACTS)
    assert result.rows_valid + result.rows_quarantined == len(df)
    # every "???" is quarantined, except one that is a legal (if odd) order id
    assert result.rows_quarantined >= len(df) // 3 - 1
