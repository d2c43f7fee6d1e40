"""Coerce and check a raw batch's columns, vectorised: typed values and one reason per
failed check of a row (column, check, value as it came); never raises for bad values."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from shared.data.contracts import ColumnSpec, Contracts
from shared.data.quickcheck import Verdict, number_verdict, text_verdict
from shared.data.textcols import (
    arrow_text,
    as_text,
    first_duplicates,
    one_chunk,
    strip,
    take,
    text_check,
    text_series,
)

_TRUE = {"true", "1", "yes", "y", "t", "1.0"}
_FALSE = {"false", "0", "no", "n", "f", "0.0"}
_THREADED_ROWS = 100_000  # from this many rows, columns are checked in two threads
_BOUNDS = ("greater_than_or_equal_to", "less_than_or_equal_to")
_FLOAT, _INT = "dtype('float64')", "dtype('int64')"
_TS_MIN, _TS_MAX = pd.Timestamp("1678-01-01"), pd.Timestamp("2262-04-11")


def _is_blank(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
        return np.zeros(len(s), dtype=bool)
    return s.astype("string").str.strip().eq("").fillna(False).to_numpy(dtype=bool)


def _coerce(s: pd.Series, spec: ColumnSpec) -> tuple[pd.Series, np.ndarray, np.ndarray, str]:
    """Typed values (NaN where unusable), null mask, bad-type mask and the type check name."""
    if spec.type in ("float", "int") and isinstance(s.dtype, np.dtype) and s.dtype.kind in "iuf":
        return _coerce_numbers(s, spec)
    null = s.isna().to_numpy()
    if spec.type in ("float", "int"):
        if pd.api.types.is_bool_dtype(s):
            x = pd.Series(np.full(len(s), np.nan), index=s.index)
            bad = ~null
        elif pd.api.types.is_numeric_dtype(s):
            x = s.astype("float64")
            bad = np.zeros(len(s), dtype=bool)
        else:
            blank = _is_blank(s)
            null = null | blank
            x = pd.to_numeric(s.where(~blank), errors="coerce").astype("float64")
            bad = x.isna().to_numpy() & ~null
        check = "dtype('float64')"
        if spec.type == "int":
            v = x.to_numpy(dtype="float64", na_value=np.nan)
            with np.errstate(invalid="ignore"):  # a fraction (inf == trunc(inf); NaN is null)
                frac = (v != np.trunc(v)) & ~np.isnan(v)
            bad = bad | frac
            check = "dtype('int64')"
        return (x.where(~bad) if bad.any() else x), null, bad, check
    if spec.type == "bool":
        if s.dtype == bool:  # a NumPy bool column has no missing values: used as it is
            return s, null, np.zeros(len(s), bool), "dtype('bool')"
        if pd.api.types.is_bool_dtype(s):
            return (
                s.astype("boolean").astype(object).where(~null),
                null,
                np.zeros(len(s), bool),
                "dtype('bool')",
            )
        text = s.astype("string").str.strip().str.lower()
        blank = text.eq("").fillna(False).to_numpy(dtype=bool)
        null = null | blank
        is_true = text.isin(_TRUE).fillna(False).to_numpy(dtype=bool)
        is_false = text.isin(_FALSE).fillna(False).to_numpy(dtype=bool)
        bad = ~null & ~is_true & ~is_false
        x = pd.Series(np.where(is_true, True, np.where(is_false, False, None)), index=s.index)
        return x, null, bad, "dtype('bool')"
    if spec.type == "timestamp":
        if pd.api.types.is_datetime64_any_dtype(s):
            x = s.dt.tz_convert("UTC").dt.tz_localize(None) if s.dt.tz is not None else s
            return x, null, np.zeros(len(s), bool), "dtype('datetime64[ns]')"
        blank = _is_blank(s)
        null = null | blank
        x = pd.to_datetime(
            s.where(~blank).astype("string"), errors="coerce", utc=True, format="ISO8601"
        )
        x = x.dt.tz_localize(None)
        # years a nanosecond timestamp cannot hold (e.g. "-1" read as year -1) are wrong types
        oob = (x.notna() & ((x < _TS_MIN) | (x > _TS_MAX))).to_numpy(dtype=bool)
        x = x.where(~oob).astype("datetime64[ns]")
        bad = (x.isna().to_numpy() & ~null) | oob
        return x, null, bad, "dtype('datetime64[ns]')"
    # str / category: keep the text as it came, checks decide on empties
    arrow = arrow_text(s)
    if arrow is not None:  # Arrow-backed text (a Parquet or CSV read): no conversion
        return text_series(strip(arrow)), null, np.zeros(len(s), bool), "dtype('str')"
    x = s.astype("string").str.strip()
    return x, null, np.zeros(len(s), bool), "dtype('str')"


def _coerce_numbers(
    s: pd.Series, spec: ColumnSpec
) -> tuple[pd.Series, np.ndarray, np.ndarray, str]:
    """:func:`_coerce` of a NumPy number column, on its array (the same masks and values)."""
    x = s.astype("float64")
    v = x.to_numpy()
    null = np.isnan(v) if s.dtype.kind == "f" else np.zeros(len(v), dtype=bool)
    if spec.type == "float":
        return x, null, np.zeros(len(v), bool), _FLOAT
    with np.errstate(invalid="ignore"):  # a fraction (inf == trunc(inf); NaN is null)
        bad = v != np.trunc(v)
    bad &= ~null
    return (x.where(~bad) if bad.any() else x), null, bad, _INT


def _run_check(check: pa.Check, x: pd.Series, usable: np.ndarray, column: str) -> np.ndarray:
    """Rows of ``column`` whose usable value fails one contract check (a bool mask).

    Pandera's built-in checks are evaluated directly from their name and statistics over the
    whole column (same semantics, without per-call overhead or a copy of the usable rows);
    any other check goes through Pandera itself, on the usable values."""
    stats = check.statistics
    arrow = arrow_text(x)
    if arrow is not None and (passed := text_check(arrow, check.name, stats)) is not None:
        return usable & ~passed
    if x.dtype == np.float64 and check.name in _BOUNDS:  # NaN compares False, as in pandas
        v = x.to_numpy()
        if check.name == "greater_than_or_equal_to":
            return usable & ~(v >= stats["min_value"])
        return usable & ~(v <= stats["max_value"])
    ok: pd.Series | None = None
    if check.name == "greater_than_or_equal_to":
        ok = x >= stats["min_value"]
    elif check.name in ("less_than_or_equal_to", "not_in_future"):
        ok = x <= stats["max_value"]
    elif check.name == "isin":
        ok = x.isin(stats["allowed_values"])
    elif check.name == "str_length" and stats.get("max_value") is None:
        ok = x.str.len() >= (stats.get("min_value") or 0)
    if ok is not None:
        return usable & ~ok.to_numpy(dtype=bool, na_value=False)
    sub = x[usable]
    out = check(pd.DataFrame({column: sub}), column).check_output
    passed = out.to_numpy(dtype=bool) if hasattr(out, "to_numpy") else np.asarray(out, bool)
    fails = np.zeros(len(x), dtype=bool)
    fails[sub.index.to_numpy()[~passed]] = True
    return fails


def _quick(s: pd.Series, spec: ColumnSpec, checks: list[pa.Check], masked: bool) -> Verdict | None:
    if spec.type in ("str", "category"):
        arrow = arrow_text(s)
        return text_verdict(arrow, spec, checks, masked) if arrow is not None else None
    return number_verdict(s, spec, checks, masked)


def _text(values: pd.Series) -> np.ndarray:
    text = as_text(values)
    text[pd.isna(text)] = "<null>"
    return text


@dataclass
class RowChecks:
    """Typed columns (NaN where unusable) and one reason per failed check of a row."""

    typed: dict[str, pd.Series]
    reasons: pd.DataFrame  # QuarantineReasons, sorted by row


def _check_column(
    s: pd.Series, spec: ColumnSpec, column: pa.Column, unique: bool, masked: bool
) -> tuple[pd.Series, list[tuple[str, np.ndarray]]]:
    """One column's typed values and its failed checks: (check, bool mask or row numbers)."""
    quick = _quick(s, spec, column.checks, masked) if not (spec.unique and unique) else None
    if quick is not None:  # only rows failing a quick test of the column get a closer look
        return quick.typed, quick.fails
    fails: list[tuple[str, np.ndarray]] = []
    x, null, bad, type_check = _coerce(s, spec)
    if spec.required and not spec.nullable:
        fails.append(("not_nullable", null))
    fails.append((type_check, bad))
    usable = ~null & ~bad
    if spec.type in ("float", "int"):
        inf = usable & np.isinf(x.to_numpy(dtype="float64", na_value=np.nan))
        fails.append(("finite", inf))
        usable = usable & ~inf
    if spec.unique and unique:
        arrow = arrow_text(x)
        if arrow is not None:
            fails.append(("unique", first_duplicates(arrow, usable)))
        else:
            fails.append(("unique", usable & x.duplicated(keep="first").to_numpy()))
    if column.checks and usable.any():
        for check in column.checks:
            fails.append((check.name, _run_check(check, x, usable, spec.name)))
    numeric = masked and spec.type in ("float", "int") and not usable.all()
    return (x.where(usable) if numeric else x), fails


def check_rows(
    raw: pd.DataFrame,
    contracts: Contracts,
    specs: list[ColumnSpec],
    *,
    unique: bool = True,
    masked: bool = True,
) -> RowChecks:
    """Coerce and check ``specs`` columns of ``raw`` (RangeIndex, columns present), vectorised.

    Never raises for bad values: every problem becomes a reason (column, check, value).
    ``masked=False``: a number column's typed values are left as coerced in rows that fail
    a check (for a caller that drops every row with a reason).
    """
    schema = contracts.raw_schema
    raw = one_chunk(raw)
    typed: dict[str, pd.Series] = {}
    fail_rows: list[np.ndarray] = []
    fail_meta: list[tuple[str, str]] = []

    def record(col: str, check: str, mask_or_rows: np.ndarray) -> None:
        if mask_or_rows.dtype == bool and not mask_or_rows.any():
            return
        rows = np.flatnonzero(mask_or_rows) if mask_or_rows.dtype == bool else mask_or_rows
        if len(rows):
            fail_rows.append(rows)
            fail_meta.append((col, check))

    def column(spec: ColumnSpec) -> tuple[pd.Series, list[tuple[str, np.ndarray]]]:
        return _check_column(raw[spec.name], spec, schema.columns[spec.name], unique, masked)

    if len(raw) >= _THREADED_ROWS and len(specs) > 1:
        # columns are checked two at a time: NumPy and Arrow release the GIL
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = list(pool.map(column, specs))
    else:
        done = [column(spec) for spec in specs]
    for spec, (x, fails) in zip(specs, done, strict=True):
        typed[spec.name] = x
        for check_name, mask_or_rows in fails:
            record(spec.name, check_name, mask_or_rows)

    if fail_rows:
        sizes = [len(r) for r in fail_rows]
        rows = np.concatenate(fail_rows)
        cols = np.repeat([m[0] for m in fail_meta], sizes)
        checks = np.repeat([m[1] for m in fail_meta], sizes)
        values = np.empty(len(rows), dtype=object)
        start = 0
        for (col, _), r in zip(fail_meta, fail_rows, strict=True):
            values[start : start + len(r)] = _text(take(raw[col], r))
            start += len(r)
        # sorted by row, column, check (stable): one integer key, the (column, check) pairs
        # ranked once
        pairs = sorted(set(fail_meta))
        rank = np.array([pairs.index(m) for m in fail_meta], dtype=np.int64)
        order = np.argsort(rows * len(pairs) + np.repeat(rank, sizes), kind="stable")
        reasons = pd.DataFrame(
            {
                "row": rows[order],
                "column": cols[order],
                "check": checks[order],
                "value": values[order],
            }
        )
    else:
        reasons = pd.DataFrame(
            {"row": pd.Series([], dtype="int64"), "column": [], "check": [], "value": []}
        )
    reasons = reasons.astype({"row": "int64", "column": str, "check": str, "value": str})
    return RowChecks(typed, reasons)
