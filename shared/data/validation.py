"""Split a raw batch into valid rows and quarantined rows, each with its reasons.

The checks come from the Pandera contract (:mod:`shared.data.contracts`); this module evaluates
them column by column, vectorised, and records for every failing row the column, the check
and the value as it came. Nothing is lost: ``rows_in == rows_valid + rows_quarantined``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
from pandera.config import ValidationDepth, config_context
from pandera.typing import Series

from shared.data.contracts import ColumnSpec, Contracts

_TRUE = {"true", "1", "yes", "y", "t", "1.0"}
_FALSE = {"false", "0", "no", "n", "f", "0.0"}
_EXACT_INT = 2.0**53  # integers a float64 holds exactly
_TS_MIN, _TS_MAX = pd.Timestamp("1678-01-01"), pd.Timestamp("2262-04-11")


class RawInputError(ValueError):
    """A file-level problem with a raw batch; the message is one line naming file and problem."""


class QuarantineReasons(pa.DataFrameModel):
    """One failed check of one raw row (long format: a row may fail several checks)."""

    row: Series[int] = pa.Field(ge=0)
    column: Series[str]
    check: Series[str]
    value: Series[str] = pa.Field(nullable=True)


@dataclass(frozen=True)
class CheckCount:
    """How many rows failed one check of one column."""

    column: str
    check: str
    rows: int


@dataclass
class SplitResult:
    """Outcome of validating one raw batch."""

    valid: pd.DataFrame
    quarantined: pd.DataFrame  # raw rows as they came (text) + _row + _reasons (list)
    reasons: pd.DataFrame  # QuarantineReasons
    rows_in: int
    extra_columns: list[str] = field(default_factory=list)

    @property
    def rows_valid(self) -> int:
        return len(self.valid)

    @property
    def rows_quarantined(self) -> int:
        return len(self.quarantined)

    @property
    def valid_fraction(self) -> float:
        return self.rows_valid / self.rows_in if self.rows_in else 0.0

    def check_counts(self) -> list[CheckCount]:
        """Rows failing each (column, check), most frequent first."""
        if self.reasons.empty:
            return []
        counts = (
            self.reasons.groupby(["column", "check"])["row"].nunique().sort_values(ascending=False)
        )
        return [CheckCount(c, k, int(n)) for (c, k), n in counts.items()]


def _is_blank(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
        return np.zeros(len(s), dtype=bool)
    return s.astype("string").str.strip().eq("").fillna(False).to_numpy(dtype=bool)


def _coerce(s: pd.Series, spec: ColumnSpec) -> tuple[pd.Series, np.ndarray, np.ndarray, str]:
    """Typed values (NaN where unusable), null mask, bad-type mask and the type check name."""
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
            with np.errstate(invalid="ignore"):
                frac = np.isfinite(v) & (
                    np.mod(v, 1.0, where=np.isfinite(v), out=np.zeros_like(v)) != 0
                )
            bad = bad | frac
            check = "dtype('int64')"
        x = x.where(~bad)
        return x, null, bad, check
    if spec.type == "bool":
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
    x = s.astype("string").str.strip()
    return x, null, np.zeros(len(s), bool), "dtype('str')"


def _run_check(check: pa.Check, s: pd.Series, column: str) -> np.ndarray:
    """Pass mask of one contract check over the usable values ``s`` of ``column``.

    Pandera's built-in checks are evaluated directly from their name and statistics (same
    semantics, without per-call overhead); any other check goes through Pandera itself."""
    stats = check.statistics
    if check.name == "greater_than_or_equal_to":
        return (s >= stats["min_value"]).to_numpy(dtype=bool)
    if check.name in ("less_than_or_equal_to", "not_in_future"):
        return (s <= stats["max_value"]).to_numpy(dtype=bool)
    if check.name == "isin":
        return s.isin(stats["allowed_values"]).to_numpy(dtype=bool)
    if check.name == "str_length" and stats.get("max_value") is None:
        return (s.str.len() >= (stats.get("min_value") or 0)).to_numpy(dtype=bool)
    out = check(pd.DataFrame({column: s}), column).check_output
    return out.to_numpy(dtype=bool) if hasattr(out, "to_numpy") else np.asarray(out, dtype=bool)


def _text(values: pd.Series) -> pd.Series:
    return values.astype("string").fillna("<null>").astype(str)


def column_array(col: Any) -> np.ndarray:
    return col.to_numpy() if isinstance(col, pd.Series) else np.asarray(col)


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?")


def _plain_iso(v: Any) -> bool:
    """A naive ISO 8601 text NumPy parses as pandas does (no zone, within nanosecond years)."""
    return type(v) is str and _ISO.fullmatch(v) is not None and 1678 <= int(v[:4]) <= 2261


def _all_of(values: np.ndarray, types: tuple[type, ...]) -> bool:
    return all(type(v) in types for v in values.tolist())


@dataclass(frozen=True)
class FastCheck:
    """The contract's checks of one column, for a fast path: a column whose values all pass
    them as they are is used without coercion (anything else takes the full path)."""

    spec: ColumnSpec
    low: float | None  # numeric bounds from the contract's checks
    high: float | None
    allowed: frozenset[str] | None  # category values (str_length >= 1 implied)
    future_limit: np.datetime64 | None
    fast: bool  # every check of the column is one evaluated here

    def typed(self, col: Any, n: int) -> np.ndarray | pd.Series | None:
        """The column's typed values if every row passes every check, else None."""
        got = self.passing(col, n)
        return got[1] if got is not None and got[0].all() else None

    def passing(self, col: Any, n: int) -> tuple[np.ndarray, np.ndarray | pd.Series] | None:
        """Which rows pass every check as they are, and the typed values (valid where they
        pass; text given as a Series comes back as that Series). None: no fast path for
        this column's type, so every row takes the full path."""
        if col is None or not self.fast or len(col) != n:
            return None
        t = self.spec.type
        if t in ("category", "str"):
            return self._text(col)
        if isinstance(col, pd.Series) and isinstance(col.dtype, pd.api.extensions.ExtensionDtype):
            return None
        values = column_array(col)
        kind = values.dtype.kind
        if t in ("float", "int"):
            if kind == "O":
                plain = np.fromiter(
                    (type(v) in (int, float) for v in values.tolist()), dtype=bool, count=n
                )
                x = np.full(n, np.nan)
                x[plain] = [float(v) if abs(v) < _EXACT_INT else np.nan for v in values[plain]]
            elif kind in "iuf":
                x = values.astype(float, copy=False)
            else:
                return None
            with np.errstate(invalid="ignore"):
                ok = np.isfinite(x)
                if self.low is not None:
                    ok &= x >= self.low
                if self.high is not None:
                    ok &= x <= self.high
                if t == "int":
                    ok &= x == np.floor(x)
            return ok, x
        if t == "bool":
            if kind == "b":
                return np.ones(n, dtype=bool), values
            return None
        if t == "timestamp":
            if kind == "O" and n and _all_of(values, (np.datetime64,)):
                values = values.astype("datetime64[ns]")
            elif kind == "O" and 0 < n <= 64 and all(_plain_iso(v) for v in values.tolist()):
                try:  # a request's naive ISO timestamps
                    values = values.astype("datetime64[ns]")
                except ValueError:  # e.g. a 30th of February: the full path says so
                    return None
            if values.dtype.kind != "M":
                return None
            ok = ~np.isnat(values)
            if self.future_limit is not None:
                ok &= values <= self.future_limit
            return ok, values
        return None

    def _text(self, col: Any) -> tuple[np.ndarray, np.ndarray | pd.Series] | None:
        """Text exactly as declared (a category value; else non-empty, unpadded) passes."""
        if isinstance(col, pd.Series):
            if col.dtype.kind not in "OUT" and not pd.api.types.is_string_dtype(col.dtype):
                return None
            try:
                if self.allowed is not None:
                    ok = col.isin(self.allowed)
                else:
                    ok = col.notna() & (col.str.len() > 0) & (col.str.strip() == col)
                return ok.to_numpy(dtype=bool, na_value=False), col
            except (AttributeError, TypeError, ValueError):  # not text: the full path decides
                return None
        values = np.asarray(col)
        if values.dtype.kind not in "OUT":
            return None
        text = values.tolist()
        if self.allowed is not None:
            ok = [type(v) is str and v in self.allowed for v in text]
        else:
            ok = [type(v) is str and v != "" and v == v.strip() for v in text]
        return np.asarray(ok, dtype=bool).reshape(len(text)), values.astype(object, copy=False)


@lru_cache(maxsize=512)
def fast_check(contracts: Contracts, name: str) -> FastCheck:
    """The :class:`FastCheck` of column ``name`` (built once per contracts)."""
    spec = next(s for s in contracts.columns if s.name == name)
    low = high = None
    allowed: frozenset[str] | None = None
    limit: np.datetime64 | None = None
    fast = True
    for check in contracts.raw_schema.columns[name].checks:
        stats = check.statistics or {}
        if check.name == "greater_than_or_equal_to":
            low = float(stats["min_value"])
        elif check.name == "less_than_or_equal_to":
            high = float(stats["max_value"])
        elif check.name == "isin":
            vals = [str(v) for v in stats["allowed_values"]]
            allowed = frozenset(v for v in vals if v and v == v.strip())
        elif check.name == "str_length" and (stats.get("min_value") or 0) <= 1:
            pass  # the fast path takes only non-empty text
        elif check.name == "not_in_future" and "max_value" in stats:
            limit = np.datetime64(pd.Timestamp(stats["max_value"]).to_datetime64(), "ns")
        else:
            fast = False
    return FastCheck(spec, low, high, allowed, limit, fast)


@dataclass
class RowChecks:
    """Typed columns (NaN where unusable) and one reason per failed check of a row."""

    typed: dict[str, pd.Series]
    reasons: pd.DataFrame  # QuarantineReasons, sorted by row


def check_rows(
    raw: pd.DataFrame, contracts: Contracts, specs: list[ColumnSpec], *, unique: bool = True
) -> RowChecks:
    """Coerce and check ``specs`` columns of ``raw`` (RangeIndex, columns present), vectorised.

    Never raises for bad values: every problem becomes a reason (column, check, value).
    """
    schema = contracts.raw_schema
    typed: dict[str, pd.Series] = {}
    fail_rows: list[np.ndarray] = []
    fail_meta: list[tuple[str, str]] = []

    def record(col: str, check: str, mask_or_rows: np.ndarray) -> None:
        rows = np.flatnonzero(mask_or_rows) if mask_or_rows.dtype == bool else mask_or_rows
        if len(rows):
            fail_rows.append(rows)
            fail_meta.append((col, check))

    for spec in specs:
        s = raw[spec.name]
        x, null, bad, type_check = _coerce(s, spec)
        if spec.required:
            record(spec.name, "not_nullable", null)
        record(spec.name, type_check, bad)
        usable = ~null & ~bad
        if spec.type in ("float", "int"):
            inf = usable & np.isinf(x.to_numpy(dtype="float64", na_value=np.nan))
            record(spec.name, "finite", inf)
            usable = usable & ~inf
        if spec.unique and unique:
            dup = usable & x.duplicated(keep="first").to_numpy()
            record(spec.name, "unique", dup)
        column = schema.columns[spec.name]
        if column.checks and usable.any():
            sub = x[usable]
            if spec.type in ("float", "int"):
                sub = sub.astype("float64")
            for check in column.checks:
                out = _run_check(check, sub, spec.name)
                if not out.all():
                    record(spec.name, check.name, sub.index.to_numpy()[~out])
        typed[spec.name] = x.where(usable) if spec.type in ("float", "int") else x

    if fail_rows:
        sizes = [len(r) for r in fail_rows]
        rows = np.concatenate(fail_rows)
        cols = np.repeat([m[0] for m in fail_meta], sizes)
        checks = np.repeat([m[1] for m in fail_meta], sizes)
        values = np.empty(len(rows), dtype=object)
        start = 0
        for (col, _), r in zip(fail_meta, fail_rows, strict=True):
            values[start : start + len(r)] = _text(raw[col].iloc[r]).to_numpy()
            start += len(r)
        reasons = pd.DataFrame({"row": rows, "column": cols, "check": checks, "value": values})
        reasons = reasons.sort_values(["row", "column", "check"], kind="stable").reset_index(
            drop=True
        )
    else:
        reasons = pd.DataFrame(
            {"row": pd.Series([], dtype="int64"), "column": [], "check": [], "value": []}
        )
    reasons = reasons.astype({"row": "int64", "column": str, "check": str, "value": str})
    return RowChecks(typed, reasons)


def split_valid(raw: pd.DataFrame, contracts: Contracts) -> SplitResult:
    """Validate a raw batch lazily (every check on every row) and split it.

    Raises :class:`RawInputError` only for file-level problems (a required column missing);
    every row-level problem becomes a quarantine reason.
    """
    specs = [s for s in contracts.columns if s.required or s.name in raw.columns]
    missing = [s.name for s in specs if s.name not in raw.columns]
    if missing:
        raise RawInputError(f"missing required column(s): {', '.join(missing)}")
    raw = raw.reset_index(drop=True)
    n = len(raw)
    checked = check_rows(raw, contracts, specs)
    typed = checked.typed
    with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):
        reasons = QuarantineReasons.validate(checked.reasons)

    bad_mask = np.zeros(n, dtype=bool)
    if len(reasons):
        bad_mask[reasons["row"].to_numpy()] = True
    valid = _typed_frame(typed, specs, ~bad_mask)
    # the data-level checks just ran (the contract's own Check objects, above); here the
    # validated contract's schema level (columns, dtypes, strictness) is asserted
    with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):
        valid = contracts.validated.validate(valid, inplace=True)
    quarantined = _quarantine_frame(raw, reasons, bad_mask)
    extra = [c for c in raw.columns if c not in {s.name for s in contracts.columns}]
    return SplitResult(valid, quarantined, reasons, n, extra)


def _typed_frame(
    typed: dict[str, pd.Series], specs: list[ColumnSpec], keep: np.ndarray
) -> pd.DataFrame:
    out: dict[str, pd.Series] = {}
    for spec in specs:
        x = typed[spec.name][keep]
        if spec.type == "int":
            x = x.astype("int64")
        elif spec.type == "float":
            x = x.astype("float64")
        elif spec.type == "bool":
            x = x.astype("boolean") if not spec.required else x.astype(bool)
        elif spec.type == "timestamp":
            x = x.astype("datetime64[ns]")
        else:
            x = x.astype(str)
        out[spec.name] = x.reset_index(drop=True)
    return pd.DataFrame(out)


def _quarantine_frame(raw: pd.DataFrame, reasons: pd.DataFrame, bad: np.ndarray) -> pd.DataFrame:
    """Bad rows as they came (text), their raw row number and a list of reasons each."""
    rows = np.flatnonzero(bad)
    q = raw.iloc[rows].reset_index(drop=True)
    for col in q.columns:
        q[col] = q[col].astype("string").astype(object).where(q[col].notna(), None)
    q.insert(0, "_row", rows.astype("int64"))
    # reasons are sorted by row: one list<struct{column, check, value}> per quarantined row
    offsets = np.searchsorted(reasons["row"].to_numpy(), rows, side="left")
    offsets = np.append(offsets, len(reasons)).astype("int32")
    struct = pa_arrow.StructArray.from_arrays(
        [
            pa_arrow.array(reasons["column"].to_numpy(dtype=object), pa_arrow.string()),
            pa_arrow.array(reasons["check"].to_numpy(dtype=object), pa_arrow.string()),
            pa_arrow.array(reasons["value"].to_numpy(dtype=object), pa_arrow.string()),
        ],
        names=["column", "check", "value"],
    )
    q["_reasons"] = pd.arrays.ArrowExtensionArray(
        pa_arrow.ListArray.from_arrays(pa_arrow.array(offsets), struct)
    )
    return q
