"""Drift statistics against a reference profile computed once, at training time.

The profile keeps, per numeric feature, fixed PSI bin edges (training quantiles) with the
training share in each bin and 201 quantiles for KS; per categorical feature, the share of
each category; and the same for the model's holdout predictions. Monitoring never
re-reads the training data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from shared.config import ProjectConfig

EPS = 1e-4
N_BINS = 10
N_QUANTILES = 201


@dataclass(frozen=True)
class NumericRef:
    edges: list[float]  # inner bin edges (N_BINS - 1 of them): bins are fixed at training
    shares: list[float]  # training share per bin (N_BINS)
    quantiles: list[float]  # N_QUANTILES points of the training distribution
    n: int


@dataclass(frozen=True)
class CategoricalRef:
    shares: dict[str, float]
    n: int


@dataclass(frozen=True)
class ReferenceProfile:
    numeric: dict[str, NumericRef]
    categorical: dict[str, CategoricalRef]
    prediction: NumericRef | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": {k: vars(v) for k, v in self.numeric.items()},
            "categorical": {k: vars(v) for k, v in self.categorical.items()},
            "prediction": vars(self.prediction) if self.prediction else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReferenceProfile:
        return cls(
            {k: NumericRef(**v) for k, v in d["numeric"].items()},
            {k: CategoricalRef(**v) for k, v in d["categorical"].items()},
            NumericRef(**d["prediction"]) if d.get("prediction") else None,
        )


def numeric_ref(x: np.ndarray) -> NumericRef:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    edges = np.unique(np.quantile(x, np.linspace(0, 1, N_BINS + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1)
    return NumericRef(
        edges.tolist(),
        (counts / max(len(x), 1)).tolist(),
        np.quantile(x, np.linspace(0, 1, N_QUANTILES)).tolist(),
        int(len(x)),
    )


def categorical_ref(values: pd.Series) -> CategoricalRef:
    shares = values.astype(str).value_counts(normalize=True)
    return CategoricalRef({str(k): float(v) for k, v in shares.items()}, int(len(values)))


def reference_profile(
    rows: pd.DataFrame, cfg: ProjectConfig, predictions: np.ndarray | None = None
) -> ReferenceProfile:
    numeric, categorical = {}, {}
    for name, spec in cfg.features.items():
        if spec.type in ("float", "int"):
            numeric[name] = numeric_ref(rows[name].to_numpy(dtype=float))
        else:
            categorical[name] = categorical_ref(rows[name])
    pred = numeric_ref(predictions) if predictions is not None else None
    return ReferenceProfile(numeric, categorical, pred)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    e = np.clip(np.asarray(expected, float), EPS, None)
    a = np.clip(np.asarray(actual, float), EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def numeric_psi(ref: NumericRef, x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return float("nan")
    counts = np.bincount(np.searchsorted(ref.edges, x, side="right"), minlength=len(ref.shares))
    return psi(np.asarray(ref.shares), counts / len(x))


def categorical_psi(ref: CategoricalRef, values: pd.Series) -> float:
    cur = values.astype(str).value_counts(normalize=True)
    cats = sorted(set(ref.shares) | set(cur.index))
    return psi(
        np.array([ref.shares.get(c, 0.0) for c in cats]),
        np.array([float(cur.get(c, 0.0)) for c in cats]),
    )


def ks_against_quantiles(ref: NumericRef, x: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and p-value, the reference given by its stored quantiles."""
    x = np.sort(np.asarray(x, dtype=float)[np.isfinite(x)])
    if len(x) == 0:
        return float("nan"), float("nan")
    q = np.asarray(ref.quantiles)
    probs = np.linspace(0, 1, len(q))
    # reference CDF by interpolating its quantile function; current CDF empirical
    grid = np.union1d(q, x)
    f_ref = np.interp(grid, q, probs, left=0.0, right=1.0)
    f_cur = np.searchsorted(x, grid, side="right") / len(x)
    d = float(np.max(np.abs(f_ref - f_cur)))
    n = ref.n * len(x) / (ref.n + len(x))
    p = float(stats.kstwo.sf(d, max(int(round(n)), 1)))
    return d, p


def chi_square(ref: CategoricalRef, values: pd.Series) -> tuple[float, float]:
    cur = values.astype(str).value_counts()
    cats = sorted(set(ref.shares) | set(cur.index))
    observed = np.array([float(cur.get(c, 0)) for c in cats])
    expected = np.array([max(ref.shares.get(c, 0.0), EPS) for c in cats])
    expected = expected / expected.sum() * observed.sum()
    stat, p = stats.chisquare(observed, expected)
    return float(stat), float(p)
