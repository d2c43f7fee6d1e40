"""Arrow text columns at read speed give exactly pandas' answers: strip, repeated values."""

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config import load_project
from shared.data import rowchecks, textcols, validation
from shared.data.contracts import build_contracts
from shared.data.generator import TYPED_KINDS, generate_orders
from shared.data.textcols import arrow_text, as_text, first_duplicates, strip
from shared.data.validation import split_valid

CFG = load_project(Path(__file__).resolve().parents[2] / "config" / "project.yaml")
CONTRACTS = build_contracts(CFG, datetime(2026, 11, 1))

values = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.sampled_from(["", " ", "a", " a", "a\t", "\u00a0x", "x\u3000", "abcdefgh", "abcdefghi"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(values, min_size=1, max_size=40))
def test_strip_and_repeats_match_pandas(vals: list[str | None]) -> None:
    s = pd.Series(vals, dtype="str")
    arr = arrow_text(s)
    assert arr is not None
    got = pd.Series(strip(arr).to_pylist(), dtype="str")
    pd.testing.assert_series_equal(got, s.str.strip())
    present = s.notna().to_numpy()
    want = present & s.duplicated(keep="first").to_numpy()
    np.testing.assert_array_equal(first_duplicates(arr, present), want)


def test_colliding_hashes_are_decided_on_the_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    s = pd.Series(["a", "b", "a", "c", "b", None, "d"], dtype="str")
    monkeypatch.setattr(textcols, "_hashes", lambda arr: np.zeros(len(arr), dtype=np.uint64))
    got = first_duplicates(arrow_text(s), s.notna().to_numpy())
    assert got.tolist() == [False, False, True, False, True, False, False]


def test_numbers_read_as_pandas_writes_them() -> None:
    x = pd.Series([1e9, 5.0, np.nan, -0.0, np.inf, 1e-7, 123456789.125, 0.0, 5.0, -0.0, 1e16])
    want = x.astype("string").astype(object).where(x.notna(), None).tolist()
    assert as_text(x).tolist() == want


def test_threaded_uniqueness_gives_the_same_split(monkeypatch: pytest.MonkeyPatch) -> None:
    g = generate_orders(3000, seed=5, bad_fraction=0.1, bad_kinds=TYPED_KINDS)
    df = g.orders.assign(created_at=pd.to_datetime(g.orders["created_at"]))
    alone = split_valid(df, CONTRACTS)
    monkeypatch.setattr(rowchecks, "_THREADED_ROWS", 100)
    monkeypatch.setattr(validation, "_BESIDE", 100)  # valid frame and quarantine in threads
    threaded = split_valid(df, CONTRACTS)
    pd.testing.assert_frame_equal(alone.reasons, threaded.reasons)
    pd.testing.assert_frame_equal(alone.valid, threaded.valid)
    pd.testing.assert_frame_equal(alone.quarantined, threaded.quarantined)
    assert "unique" in set(alone.reasons["check"])


fixed_width = st.one_of(
    st.none(), st.sampled_from(["", "ab", "ba"]), st.text(min_size=2, max_size=2)
)


@settings(max_examples=200, deadline=None)
@given(st.lists(fixed_width, min_size=1, max_size=40), st.integers(1, 20))
def test_repeats_of_fixed_width_ids_match_pandas(vals: list[str | None], width: int) -> None:
    # ids of one width, some missing or empty: hashed as whole words, the same answers
    s = pd.Series([v if v is None else (v * width)[: 2 * width] for v in vals], dtype="str")
    arr = arrow_text(s)
    assert arr is not None
    for consider in (s.notna().to_numpy(), np.ones(len(s), dtype=bool)):
        want = consider & s.fillna("<none>").duplicated(keep="first").to_numpy()
        # a missing value repeats only another missing one, among the rows considered
        got = first_duplicates(arr, consider)
        np.testing.assert_array_equal(got[s.notna().to_numpy()], want[s.notna().to_numpy()])


def test_repeated_numbers_and_flags_read_as_pandas_writes_them() -> None:
    # each distinct value is written once: 0.0 and -0.0 stay apart, NaN stays missing
    for x in (
        pd.Series([0.0, -0.0, 0.0, np.nan, 2.5, 2.5, -0.0]),
        pd.Series([3, 3, -1, 0], dtype="int64"),
        pd.Series([True, False, True]),
    ):
        want = x.astype("string").astype(object).where(x.notna(), None).tolist()
        assert as_text(x).tolist() == want
