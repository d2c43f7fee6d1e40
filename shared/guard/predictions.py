"""The guard's output: the frame schema of guarded answers and counts over decisions."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from shared.guard.rows import DECISIONS


class GuardedPredictions(pa.DataFrameModel):
    """One guarded answer per input row."""

    row_id: Series[str]
    prediction: Series[float] = pa.Field(nullable=True)  # binary tasks: the probability
    # binary tasks only: probability >= training.threshold (none for rejected rows)
    predicted_class: Series[pd.BooleanDtype] | None = pa.Field(nullable=True)
    # calibrated bundles only: the answer's conformal interval (binary: its prediction set
    # as [0, 0], [1, 1] or [0, 1]); none for rejected rows
    interval_low: Series[float] | None = pa.Field(nullable=True)
    interval_high: Series[float] | None = pa.Field(nullable=True)
    decision: Series[str] = pa.Field(isin=list(DECISIONS))
    reasons: Series[str]
    model_version: Series[str]
    rules_version: Series[str]


def intervention_rate(predictions: pd.DataFrame) -> float:
    """Share of rows the model did not answer as is (corrected, fallback or rejected)."""
    if len(predictions) == 0:
        return 0.0
    return float((predictions["decision"] != "model").mean())


def decision_counts(predictions: pd.DataFrame) -> dict[str, int]:
    counts = predictions["decision"].value_counts()
    return {d: int(counts.get(d, 0)) for d in DECISIONS}
