"""The contract's checks of one column as a fast path: a column whose values all pass
them as they are is used without coercion (the guard plan's inputs)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from shared.data.contracts import ColumnSpec, Contracts

_EXACT_INT = 2.0**53  # integers a float64 holds exactly


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
            if kind == "O" and _all_of(values, (bool, np.bool_)):  # a request's JSON booleans
                return np.ones(n, dtype=bool), values.astype(bool)
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
