"""Split a raw batch into valid rows and quarantined rows, each with its reasons.

The checks come from the Pandera contract (:mod:`shared.data.contracts`); this module evaluates
them column by column, vectorised, and records for every failing row the column, the check
and the value as it came. Nothing is lost: ``rows_in == rows_valid + rows_quarantined``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
from pandera.config import ValidationDepth, config_context

from shared.config.errors import RenkeiError
from shared.data.contracts import ColumnSpec, Contracts
from shared.data.fastcheck import FastCheck, column_array, fast_check
from shared.data.quarantine import CheckCount, QuarantineReasons, SplitResult, quarantine_frame
from shared.data.rowchecks import RowChecks, check_rows
from shared.data.textcols import arrow_text, one_chunk, text_series

__all__ = [
    "CheckCount",
    "FastCheck",
    "QuarantineReasons",
    "RawInputError",
    "RowChecks",
    "SplitResult",
    "check_rows",
    "column_array",
    "fast_check",
    "split_valid",
]


_BESIDE = 100_000  # from this many rows, the quarantine and valid frame are built in threads


class RawInputError(RenkeiError, ValueError):
    """A file-level problem with a raw batch; the message is one line naming file and problem."""


def split_valid(raw: pd.DataFrame, contracts: Contracts) -> SplitResult:
    """Validate a raw batch lazily (every check on every row) and split it.

    Raises :class:`RawInputError` only for file-level problems (a required column missing);
    every row-level problem becomes a quarantine reason.
    """
    specs = [s for s in contracts.columns if s.required or s.name in raw.columns]
    missing = [s.name for s in specs if s.name not in raw.columns]
    if missing:
        raise RawInputError(f"missing required column(s): {', '.join(missing)}")
    raw = one_chunk(raw.reset_index(drop=True))
    n = len(raw)
    checked = check_rows(raw, contracts, specs, masked=False)
    typed = checked.typed
    reasons = schema_validated(QuarantineReasons, checked.reasons)

    bad_mask = np.zeros(n, dtype=bool)
    if len(reasons):
        bad_mask[reasons["row"].to_numpy()] = True
    # from _BESIDE rows the quarantine and the valid frame's columns are built two at a time
    # (Arrow and NumPy release the GIL)
    with ThreadPoolExecutor(max_workers=2) as pool:
        later = pool.submit(quarantine_frame, raw, reasons, bad_mask) if n >= _BESIDE else None
        valid = _typed_frame(typed, specs, ~bad_mask, pool if n >= _BESIDE else None)
        # the data-level checks just ran (the contract's own Check objects, above); here the
        # validated contract's schema level (columns, dtypes, strictness) is asserted
        valid = schema_validated(contracts.validated, valid)
        quarantined = later.result() if later else quarantine_frame(raw, reasons, bad_mask)
    extra = [c for c in raw.columns if c not in {s.name for s in contracts.columns}]
    return SplitResult(valid, quarantined, reasons, n, extra)


def _typed_frame(
    typed: dict[str, pd.Series],
    specs: list[ColumnSpec],
    keep: np.ndarray,
    pool: ThreadPoolExecutor | None = None,
) -> pd.DataFrame:
    """The kept rows of each typed column in its stored dtype (columns in ``pool`` if given)."""
    every = bool(keep.all())
    arrow_keep = pyarrow.array(keep) if not every else None

    def column(spec: ColumnSpec) -> pd.Series | np.ndarray:
        return _typed_column(typed[spec.name], spec, keep, arrow_keep)

    out = list(pool.map(column, specs) if pool is not None else map(column, specs))
    return pd.DataFrame({s.name: c for s, c in zip(specs, out, strict=True)}, copy=False)


def _typed_column(
    x: pd.Series, spec: ColumnSpec, keep: np.ndarray, arrow_keep: pyarrow.Array | None
) -> pd.Series | np.ndarray:
    arrow = arrow_text(x) if spec.type in ("str", "category") else None
    if arrow is not None:  # Arrow text stays Arrow: filtered, never converted
        return text_series(arrow if arrow_keep is None else arrow.filter(arrow_keep), np.nan)
    if spec.type == "bool" and (spec.nullable or not spec.required):
        return x[keep].astype("boolean").reset_index(drop=True)
    if spec.type == "int" and spec.nullable:
        return x[keep].astype("Int64").reset_index(drop=True)
    if spec.type in ("str", "category"):
        return x[keep].astype(str).reset_index(drop=True)
    values = x.to_numpy()
    values = values if arrow_keep is None else values[keep]
    dtype = {"int": "int64", "float": "float64", "bool": bool}.get(spec.type, "<M8[ns]")
    # a copy where the values are still the raw frame's (the frame is built on them)
    return values.astype(dtype, copy=arrow_keep is None)


@lru_cache(maxsize=256)
def _schema_holds(model: type[pa.DataFrameModel], columns: tuple[tuple[str, Any], ...]) -> bool:
    """Whether frames with these (column, dtype) pairs pass ``model`` at the schema level
    (columns, dtypes, strictness) with nothing to coerce: a property of the columns alone, so
    it is decided once, on an empty frame of them. Raises the model's own error if not."""
    empty = pd.DataFrame({c: pd.Series([], dtype=d) for c, d in columns})
    with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):
        checked = model.validate(empty)
    return list(checked.dtypes.items()) == list(columns)


def schema_validated(model: type[pa.DataFrameModel], frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` validated against ``model`` at the schema level (columns, dtypes,
    strictness; coerced where a dtype differs): checked once per set of columns and dtypes."""
    if _schema_holds(model, tuple(frame.dtypes.items())):
        return frame
    with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):
        return model.validate(frame, inplace=True)
