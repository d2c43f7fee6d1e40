"""Adaptive interval updates as the app's Monitoring page and `renkei intervals` show them:
one row per update of an alias's interval quantile (shared.ledger.intervals)."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from shared.ledger import Ledger

COLUMNS = [
    "update",
    "at",
    "alias",
    "version",
    "feedback batch",
    "labels",
    "covered",
    "old quantile",
    "new quantile",
    "old factor",
    "new factor",
    "by",
]


class IntervalUpdateRow(pa.DataFrameModel):
    """One adaptive update: the labels it used and the quantile before and after."""

    update: Series[int]
    alias: Series[str]
    version: Series[str]
    labels: Series[int] = pa.Field(ge=0)
    covered: Series[float] = pa.Field(ge=0, le=1)  # share inside the old quantile's intervals
    old_factor: Series[float] = pa.Field(gt=0, alias="old factor")
    new_factor: Series[float] = pa.Field(gt=0, alias="new factor")

    class Config:
        strict = False


def interval_updates(ledger: Ledger, alias: str | None = None) -> pd.DataFrame:
    """Every update (of ``alias``), newest first."""
    rows = [
        {
            "update": u.id,
            "at": u.created_at,
            "alias": u.alias,
            "version": u.version,
            "feedback batch": u.feedback_batch_id,
            "labels": u.labels,
            "covered": u.covered / u.labels if u.labels else 0.0,
            "old quantile": u.old_quantile,
            "new quantile": u.new_quantile,
            "old factor": u.old_factor,
            "new factor": u.new_factor,
            "by": u.actor,
        }
        for u in ledger.intervals.updates(alias)
    ]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if frame.empty:
        return frame
    return IntervalUpdateRow.validate(frame.iloc[::-1].reset_index(drop=True))
