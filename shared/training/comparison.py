"""The candidates' comparison frame: the key metric per family, overall and per slice (the
training card's chart)."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from shared.config import ProjectConfig

from .candidate import Candidate


class ComparisonRow(pa.DataFrameModel):
    """One candidate's holdout metric overall or on one slice (the card's chart data)."""

    family: Series[str]
    slice: Series[str]
    metric: Series[str]
    value: Series[float] = pa.Field(nullable=True)


def comparison_frame(candidates: list[Candidate], cfg: ProjectConfig) -> pd.DataFrame:
    """Long table of the key metric per family, overall and per slice (the card's chart)."""
    m = cfg.training.key_metric
    rows = []
    for c in candidates:
        rows.append({"family": c.family, "slice": "all", "metric": m, "value": c.metrics[m]})
        for name, values in c.slices.items():
            rows.append({"family": c.family, "slice": name, "metric": m, "value": values[m]})
    return ComparisonRow.validate(pd.DataFrame(rows))
