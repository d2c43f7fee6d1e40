"""The envelope of the training data: where numeric features lived (quantiles, IQR) and
which categories were seen; the ``out_of_envelope`` rule checks rows against it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from shared.config import ProjectConfig


@dataclass(frozen=True)
class Envelope:
    """Where the training data lived: numeric quantiles and IQR, categories seen. Missing
    values (nullable features) are not part of it: learned without them, never checked."""

    numeric: dict[str, dict[str, float]]
    categories: dict[str, list[str]]

    @classmethod
    def learn(cls, rows: pd.DataFrame, cfg: ProjectConfig, q: float = 0.001) -> Envelope:
        numeric, categories = {}, {}
        for name, spec in cfg.features.items():
            if spec.type in ("float", "int"):
                x = rows[name].astype(float)
                q25, q75 = x.quantile([0.25, 0.75])
                numeric[name] = {
                    "low": float(x.quantile(q)),
                    "high": float(x.quantile(1 - q)),
                    "iqr": float(q75 - q25),
                }
            elif spec.type in ("category", "str"):
                categories[name] = sorted(rows[name].dropna().astype(str).unique().tolist())
        return cls(numeric, categories)

    def to_dict(self) -> dict[str, Any]:
        return {"numeric": self.numeric, "categories": self.categories}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Envelope:
        return cls(data["numeric"], data["categories"])
