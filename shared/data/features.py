"""Features: one pure implementation shared by training and every scorer (no skew).

Numeric features pass through as float, booleans become 0/1, categories become one-hot
columns over the values the config declares (a value outside them sets no column), and an
``hour`` feature, when present, also gets its position on the clock (sin, cos).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
    return pd.DataFrame(
        feature_matrix(rows, cfg), columns=list(feature_space(cfg).columns), index=rows.index
    )


def feature_matrix(rows: Mapping[str, Any], cfg: ProjectConfig) -> np.ndarray:
    """The features of ``rows`` (a frame, or column name -> array) as one float64 matrix,
    columns in :func:`feature_space` order."""
    out: list[np.ndarray] = []
    for name, spec in cfg.features.items():
        s = rows[name]
        if spec.type == "category":
            text = _as(s, str)
            if isinstance(text, pd.Series):  # Arrow text: compared in Arrow, NA is no value
                out += [(text == v).to_numpy(dtype=bool, na_value=False) for v in spec.values or []]
            else:
                out += [text == v for v in spec.values or []]
        elif spec.type == "bool":
            out.append(_as(s, bool))
        elif spec.type in ("float", "int"):
            out.append(_as(s, float))
        if name == "hour":
            angle = _as(rows["hour"], float) * (2 * math.pi / 24)
            out += [np.sin(angle), np.cos(angle)]
    n = len(rows[next(iter(cfg.features))]) if cfg.features else 0
    matrix = np.empty((n, len(out)), dtype=float)
    for j, col in enumerate(out):
        matrix[:, j] = col
    return matrix


def _as(values: Any, kind: type) -> Any:
    """``values`` (a Series or an array) as an array of ``kind`` (strings: kept as they are
    in an array, which holds the guard's typed text)."""
    if isinstance(values, pd.Series):
        if kind is str and values.dtype.kind != "O" and pd.api.types.is_string_dtype(values.dtype):
            return values  # already text (Arrow): no conversion
        return values.astype(kind).to_numpy()
    if kind is str:
        return np.asarray(values)
    return np.asarray(values).astype(kind)


def check_features(x: pd.DataFrame, cfg: ProjectConfig) -> pd.DataFrame:
    """Validate a feature matrix against the project's feature contract."""
    return feature_schema(feature_space(cfg)).validate(x)
