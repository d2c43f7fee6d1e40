"""Features: one pure implementation shared by training and every scorer (no skew).

Numeric features pass through as float, booleans become 0/1, categories become one-hot
columns over the values the config declares (a value outside them sets no column), and an
``hour`` feature, when present, also gets its position on the clock (sin, cos).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from shared.config import ProjectConfig


@dataclass(frozen=True)
class FeatureSpace:
    """The feature columns a project's models see, in a fixed order."""

    columns: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.columns)


def feature_space(cfg: ProjectConfig) -> FeatureSpace:
    cols: list[str] = []
    for name, spec in cfg.features.items():
        if spec.type == "category":
            cols += [f"{name}={v}" for v in spec.values or []]
        elif spec.type in ("float", "int", "bool"):
            cols.append(name)
        if name == "hour":
            cols += ["hour_sin", "hour_cos"]
    return FeatureSpace(tuple(cols))


def feature_schema(space: FeatureSpace) -> pa.DataFrameSchema:
    """The Pandera contract of a feature matrix: every column present, float, finite."""
    return pa.DataFrameSchema(
        {
            c: pa.Column(float, pa.Check(lambda s: np.isfinite(s), name="finite"))
            for c in space.columns
        },
        strict=True,
        ordered=True,
    )


def build_features(rows: pd.DataFrame, cfg: ProjectConfig) -> pd.DataFrame:
    """Feature matrix (float, finite, fixed columns) from validated rows."""
    out: dict[str, np.ndarray] = {}
    for name, spec in cfg.features.items():
        s = rows[name]
        if spec.type == "category":
            text = s.astype(str).to_numpy()
            for v in spec.values or []:
                out[f"{name}={v}"] = (text == v).astype(float)
        elif spec.type == "bool":
            out[name] = s.astype(bool).to_numpy().astype(float)
        elif spec.type in ("float", "int"):
            out[name] = s.astype(float).to_numpy()
        if name == "hour":
            angle = rows["hour"].astype(float).to_numpy() * (2 * math.pi / 24)
            out["hour_sin"] = np.sin(angle)
            out["hour_cos"] = np.cos(angle)
    return pd.DataFrame(out, index=rows.index)


def check_features(x: pd.DataFrame, cfg: ProjectConfig) -> pd.DataFrame:
    """Validate a feature matrix against the project's feature contract."""
    return feature_schema(feature_space(cfg)).validate(x)
