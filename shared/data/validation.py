"""Split a raw batch into valid rows and quarantined rows, each with its reasons.

The checks come from the Pandera contract (:mod:`shared.data.contracts`); this module evaluates
them column by column, vectorised, and records for every failing row the column, the check
and the value as it came. Nothing is lost: ``rows_in == rows_valid + rows_quarantined``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandera.config import ValidationDepth, config_context

from shared.data.contracts import ColumnSpec, Contracts
from shared.data.fastcheck import FastCheck, column_array, fast_check
from shared.data.quarantine import CheckCount, QuarantineReasons, SplitResult, quarantine_frame
from shared.data.rowchecks import RowChecks, check_rows

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


class RawInputError(ValueError):
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
    quarantined = quarantine_frame(raw, reasons, bad_mask)
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
