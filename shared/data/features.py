"""Features: one pure implementation shared by training and every scorer (no skew).

Numeric features pass through as float, booleans become 0/1, categories become one-hot
columns over the values the config declares (a value outside them sets no column), and an
``hour`` feature, when present, also gets its position on the clock (sin, cos).

A nullable feature's missing value is NaN in each of its columns (a category: in every
one-hot column), which XGBoost takes as missing; the MLP imputes it
(:mod:`shared.model.impute`). Features that are not nullable keep exactly today's path.
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


def feature_columns(name: str, spec: Any) -> list[str]:
    """The matrix columns one feature becomes (in :func:`feature_space` order)."""
    cols: list[str] = []
    if spec.type == "category":
        cols += [f"{name}={v}" for v in spec.values or []]
    elif spec.type in ("float", "int", "bool"):
        cols.append(name)
    if name == "hour":
        cols += ["hour_sin", "hour_cos"]
    return cols


def feature_space(cfg: ProjectConfig) -> FeatureSpace:
    return FeatureSpace(
        tuple(c for name, spec in cfg.features.items() for c in feature_columns(name, spec))
    )


def feature_schema(
    space: FeatureSpace, nullable: frozenset[str] = frozenset()
) -> pa.DataFrameSchema:
    """The Pandera contract of a feature matrix: every column present, float, finite (a
    column of a nullable feature: finite or NaN, a missing value)."""
    return pa.DataFrameSchema(
        {
            c: pa.Column(
                float,
                pa.Check(lambda s: np.isfinite(s), name="finite")
                if c not in nullable
                else pa.Check(lambda s: ~np.isinf(s), name="finite_or_missing"),
                nullable=c in nullable,
            )
            for c in space.columns
        },
        strict=True,
        ordered=True,
    )


def nullable_columns(cfg: ProjectConfig) -> frozenset[str]:
    """The matrix columns of the project's nullable features."""
    return frozenset(
        c for name in cfg.nullable_features for c in feature_columns(name, cfg.features[name])
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
        if spec.nullable:
            out += _with_gaps(s, name, spec)
            continue
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


def missing(values: Any) -> np.ndarray:
    """Where a typed column has no value: None, NaN, <NA> or empty text."""
    if isinstance(values, pd.Series):
        miss = values.isna().to_numpy(dtype=bool)
        if values.dtype.kind == "O" or pd.api.types.is_string_dtype(values.dtype):
            blank = values.astype("string").eq("").to_numpy(dtype=bool, na_value=True)
            miss = miss | blank
        return miss
    arr = np.asarray(values)
    if arr.dtype.kind in "fc":
        return np.isnan(arr)
    if arr.dtype.kind == "O":
        return np.fromiter(
            (
                v is None or v is pd.NA or v == "" or (isinstance(v, float) and v != v)
                for v in arr.tolist()
            ),
            dtype=bool,
            count=len(arr),
        )
    return np.zeros(len(arr), dtype=bool)


def as_numbers(values: Any, gap: np.ndarray | None = None) -> np.ndarray:
    """A number or bool column as float64 (a new array), NaN where a value is missing."""
    gap = missing(values) if gap is None else gap
    s = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_bool_dtype(s.dtype):
        s = s.astype("boolean")
    elif s.dtype.kind == "O":
        s = s.where(~gap).map(
            lambda v: float(v) if isinstance(v, bool | np.bool_) else v, na_action="ignore"
        )
    out = np.array(pd.to_numeric(s, errors="coerce").astype("Float64"), dtype=float)
    out[gap] = np.nan
    return out


def _with_gaps(values: Any, name: str, spec: Any) -> list[np.ndarray]:
    """A nullable feature's columns: NaN in each where the value is missing."""
    gap = missing(values)
    cols: list[np.ndarray] = []
    if spec.type == "category":
        present = pd.Series(values).reset_index(drop=True).where(~gap)
        text = present.astype("string").fillna("").to_numpy(dtype=object)
        cols += [(text == v).astype(float) for v in spec.values or []]
    else:
        cols.append(as_numbers(values, gap))
    if name == "hour":
        angle = cols[0] * (2 * math.pi / 24)
        cols += [np.sin(angle), np.cos(angle)]
    for c in cols:
        c[gap] = np.nan
    return cols


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
    return feature_schema(feature_space(cfg), nullable_columns(cfg)).validate(x)
