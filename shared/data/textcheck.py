"""The contract's checks of an Arrow text column with declared values (a category), row by
row only where a value is not exactly one of them.

A value that is exactly a declared value which passes every check of the column as it is
(non-empty, unpadded) passes: one hash look-up per row (``is_in``). Every other row (usually
a small fraction: nulls, padded or unknown values) takes the full path: stripped, then each
check evaluated as :func:`shared.data.rowchecks.check_rows` would over the whole column. The
reasons are the same; only the rows that need a closer look get one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc

from shared.data.textcols import strip, text_check, text_series


@dataclass(frozen=True)
class TextChecks:
    """A text column's typed values and, by row number, its nulls and each check's failures."""

    typed: pd.Series  # the values stripped, as text (Arrow)
    null: np.ndarray  # rows without a value
    fails: list[tuple[str, np.ndarray]]  # (check name, failing rows), in the checks' order


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


def category_checks(
    arr: pyarrow.LargeStringArray, checks: list[pa.Check], masked: bool
) -> TextChecks | None:
    """The checks of a text column of declared values, or None where another check (not
    ``isin`` or ``str_length`` without a maximum) or no ``isin`` makes it the full path's.

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
    fails: list[tuple[str, np.ndarray]] = []
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
    return TextChecks(text_series(typed), rest[null], fails)
