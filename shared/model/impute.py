"""The MLP's imputation of missing values, learned at training and stored in the bundle.

A nullable feature's missing value reaches the models as NaN in each of its feature
columns (:func:`shared.data.features.feature_matrix`). XGBoost takes NaN natively; a neural
network cannot, so :class:`Imputer` fills it with what training saw:

* a number or a bool (and the ``hour`` clock columns): the training median of each of its
  columns, plus one missing indicator column (1 where the value was missing);
* a category: no declared level (every one-hot column 0) and one more column, its missing
  level (1 where the value was missing).

The statistics are learned once, on the training rows, and saved with the model
(``meta.json``), so scoring imputes exactly as training did. A project without nullable
features has no imputer, and its MLP sees the same matrix as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.config import ProjectConfig
from shared.data.features import feature_columns, feature_space


@dataclass(frozen=True)
class Gap:
    """One nullable feature: its columns in the feature matrix and how each is filled."""

    feature: str
    kind: str  # "number" (median + indicator) | "category" (a missing level)
    columns: list[int]
    fill: list[float]  # per column: the training median (numbers) or 0 (categories)

    @property
    def indicator(self) -> str:
        return f"{self.feature}=<missing>" if self.kind == "category" else f"{self.feature}_missing"


@dataclass(frozen=True)
class Imputer:
    """Fills the gaps of nullable features; one indicator column per feature is appended."""

    gaps: tuple[Gap, ...]

    @classmethod
    def learn(cls, x: np.ndarray, cfg: ProjectConfig) -> Imputer | None:
        """The statistics of the training matrix ``x`` (None: no nullable feature)."""
        names = cfg.nullable_features
        if not names:
            return None
        index = {c: j for j, c in enumerate(feature_space(cfg).columns)}
        gaps = []
        for name in names:
            spec = cfg.features[name]
            cols = [index[c] for c in feature_columns(name, spec)]
            if spec.type == "category":
                gaps.append(Gap(name, "category", cols, [0.0] * len(cols)))
                continue
            fill = []
            for j in cols:
                seen = x[:, j][np.isfinite(x[:, j])]
                fill.append(float(np.median(seen)) if len(seen) else 0.0)
            gaps.append(Gap(name, "number", cols, fill))
        return cls(tuple(gaps))

    @property
    def extra(self) -> list[str]:
        """Names of the indicator columns appended to the matrix, in order."""
        return [g.indicator for g in self.gaps]

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``x`` with every gap filled and the indicator columns appended (a new array)."""
        out = np.array(x, dtype=x.dtype if x.dtype.kind == "f" else np.float64, copy=True)
        flags = np.zeros((len(out), len(self.gaps)), dtype=out.dtype)
        for k, gap in enumerate(self.gaps):
            block = out[:, gap.columns]
            miss = np.isnan(block).any(axis=1)
            flags[:, k] = miss
            for i, j in enumerate(gap.columns):
                col = out[:, j]
                col[np.isnan(col)] = gap.fill[i]
        return np.concatenate([out, flags], axis=1)

    def to_dict(self) -> list[dict[str, Any]]:
        return [vars(g) for g in self.gaps]

    @classmethod
    def from_dict(cls, data: list[dict[str, Any]] | None) -> Imputer | None:
        return cls(tuple(Gap(**g) for g in data)) if data else None
