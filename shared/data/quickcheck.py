"""The contract's checks of a column, row by row only where a value fails a quick test over
the whole column: most rows pass it, the few others (nulls, padded or unknown text, numbers
out of bounds, fractions) are checked as :func:`shared.data.rowchecks.check_rows` checks a
whole column, so the reasons are the same.

* Arrow text with declared values (a category): a value that is exactly a declared value
  passing every check as it is (non-empty, unpadded) passes, by one hash look-up (``is_in``);
* NumPy numbers: a finite value within the bounds (a whole number for ``int``) passes.

Any other column, or a check other than these, is left to the full path (None).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc

from shared.data.contracts import ColumnSpec
from shared.data.textcols import strip, text_check, text_series

_BOUNDS = ("greater_than_or_equal_to", "less_than_or_equal_to")
_FLOAT, _INT = "dtype('float64')", "dtype('int64')"


@dataclass(frozen=True)
class Verdict:
    """A column's typed values and, by row number, the rows failing each of its checks."""

    typed: pd.Series
    fails: list[tuple[str, np.ndarray]]  # (check name, failing rows); some may be empty


def _check(values: pyarrow.LargeStringArray, check: pa.Check) -> np.ndarray:
    passed = text_check(values, check.name, check.statistics or {})
    assert passed is not None  # only checks text_check evaluates come here
    return passed


def _passing(values: pyarrow.LargeStringArray, checks: list[pa.Check]) -> pyarrow.Array:
    """The declared values that pass every check as they are and that stripping keeps."""
    ok = pc.equal(strip(values), values).to_numpy(zero_copy_only=False)
    for check in checks:
        ok &= _check(values, check)
    return values.filter(pyarrow.array(ok, pyarrow.bool_()))


def text_verdict(
    arr: pyarrow.LargeStringArray, spec: ColumnSpec, checks: list[pa.Check], masked: bool
) -> Verdict | None:
    """The checks of an Arrow text column of declared values (``isin``, ``str_length``
    without a maximum), or None for any other.

    ``masked=False``: where only rows failing a check would change when stripped, the
    typed values are left as they came (a caller that drops every row with a reason)."""
    known = all(text_check(arr[:0], c.name, c.statistics or {}) is not None for c in checks)
    if not known or "isin" not in [c.name for c in checks]:
        return None
    declared = next(c for c in checks if c.name == "isin").statistics["allowed_values"]
    exact = _passing(pyarrow.array([str(v) for v in declared], pyarrow.large_string()), checks)
    member = pc.is_in(arr, value_set=exact).to_numpy(zero_copy_only=False)
    rest = np.flatnonzero(~member)
    sub = arr.take(pyarrow.array(rest, pyarrow.int64()))
    null = sub.is_null().to_numpy(zero_copy_only=False)
    stripped = strip(sub)
    usable = ~null
    failing = np.zeros(len(rest), dtype=bool)
    fails = [("not_nullable", rest[null])] if spec.required and not spec.nullable else []
    if len(rest) < len(arr) or usable.any():  # as the full path: checks only if a row is usable
        for check in checks:
            failed = usable & ~_check(stripped, check)
            failing |= failed
            fails.append((check.name, rest[failed]))
    typed = arr
    if stripped is not sub:
        same = pc.fill_null(pc.equal(stripped, sub), True)
        changed = ~same.to_numpy(zero_copy_only=False)
        if masked or not failing[changed].all():
            typed = strip(arr)
    return Verdict(text_series(typed), fails)


def number_verdict(
    s: pd.Series, spec: ColumnSpec, checks: list[pa.Check], masked: bool
) -> Verdict | None:
    """The checks of a NumPy number column of a number feature (bounds only), or None.

    ``masked``: the typed values are NaN in rows that fail a check (as the full path)."""
    if not (isinstance(s.dtype, np.dtype) and s.dtype.kind in "iuf"):
        return None
    if spec.type not in ("float", "int") or any(c.name not in _BOUNDS for c in checks):
        return None
    x = s.astype("float64")
    v = x.to_numpy()
    whole = spec.type == "int"
    low = [float(c.statistics["min_value"]) for c in checks if c.name == _BOUNDS[0]]
    high = [float(c.statistics["max_value"]) for c in checks if c.name == _BOUNDS[1]]
    with np.errstate(invalid="ignore"):
        # a finite lower and upper bound each fail NaN and one infinity: no finite test then
        ok = v >= max(low) if low else np.isfinite(v)
        if high:
            ok &= v <= min(high)
        if not (low and high and np.isfinite([max(low), min(high)]).all()):
            ok &= np.isfinite(v)
        if whole:
            ok &= v == np.trunc(v)
    rest = np.flatnonzero(~ok)
    if not len(rest):
        return Verdict(x, [])
    # the full path's masks, over the rows that failed the quick test
    w = v[rest]
    null = np.isnan(w) if s.dtype.kind == "f" else np.zeros(len(w), dtype=bool)
    bad = np.zeros(len(w), dtype=bool)
    if whole:
        with np.errstate(invalid="ignore"):  # a fraction (inf == trunc(inf); NaN is null)
            bad = (w != np.trunc(w)) & ~null
    fails = [("not_nullable", rest[null])] if spec.required and not spec.nullable else []
    fails.append((_INT if whole else _FLOAT, rest[bad]))
    usable = ~null & ~bad
    inf = usable & np.isinf(w)
    fails.append(("finite", rest[inf]))
    usable &= ~inf
    if len(rest) < len(v) or usable.any():  # as the full path: checks only if a row is usable
        with np.errstate(invalid="ignore"):
            for check in checks:
                if check.name == "greater_than_or_equal_to":
                    failed = usable & ~(w >= check.statistics["min_value"])
                else:
                    failed = usable & ~(w <= check.statistics["max_value"])
                fails.append((check.name, rest[failed]))
    if bad.any():
        full_bad = np.zeros(len(v), dtype=bool)
        full_bad[rest[bad]] = True
        x = x.where(~full_bad)
    if masked and not usable.all():
        full = np.ones(len(v), dtype=bool)
        full[rest[~usable]] = False
        x = x.where(full)
    return Verdict(x, fails)
