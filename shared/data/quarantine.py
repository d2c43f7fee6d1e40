"""The quarantine: why rows failed (long reasons) and the split of a batch into valid and
quarantined rows, each bad row kept as it came with a list of its reasons."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
from pandera.typing import Series

from shared.data.textcols import arrow_text, as_text, take


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


def _strings(s: pd.Series) -> pa_arrow.StringArray:
    """A text column as an Arrow string array (Arrow text as it is, without a round trip
    through Python strings)."""
    arr = arrow_text(s)
    if arr is not None:
        return arr.cast(pa_arrow.string())
    return pa_arrow.array(s.to_numpy(dtype=object), pa_arrow.string())


def quarantine_frame(raw: pd.DataFrame, reasons: pd.DataFrame, bad: np.ndarray) -> pd.DataFrame:
    """Bad rows as they came (text), their raw row number and a list of reasons each."""
    rows = np.flatnonzero(bad)
    q: dict[str, object] = {"_row": rows.astype("int64")}
    for col in raw.columns:  # column by column: no frame of the taken rows is assembled
        q[col] = pd.Series(as_text(take(raw[col], rows)), dtype=object, copy=False)
    # reasons are sorted by row: one list<struct{column, check, value}> per quarantined row
    offsets = np.searchsorted(reasons["row"].to_numpy(), rows, side="left")
    offsets = np.append(offsets, len(reasons)).astype("int32")
    struct = pa_arrow.StructArray.from_arrays(
        [_strings(reasons[k]) for k in ("column", "check", "value")],
        names=["column", "check", "value"],
    )
    q["_reasons"] = pd.arrays.ArrowExtensionArray(
        pa_arrow.ListArray.from_arrays(pa_arrow.array(offsets), struct)
    )
    return pd.DataFrame(q)
