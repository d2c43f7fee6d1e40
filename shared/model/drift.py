"""Drift statistics against a reference profile computed once, at training time.

The profile keeps, per numeric feature, fixed PSI bin edges (training quantiles) with the
training share in each bin and 201 quantiles for KS; per categorical feature, the share of
each category; and the same for the model's holdout predictions; per nullable feature, the
share of rows missing it (its distribution is profiled on the rows that have it). Monitoring
never re-reads the training data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

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
class MissingRef:
    share: float  # of training rows missing the feature's value
    n: int


@dataclass(frozen=True)
class ReferenceProfile:
    numeric: dict[str, NumericRef]
    categorical: dict[str, CategoricalRef]
    prediction: NumericRef | None
    missing: dict[str, MissingRef] = field(default_factory=dict)  # nullable features only
    # multiclass tasks: the predicted class mix on the holdout (prediction: the confidence)
    classes: CategoricalRef | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "numeric": {k: vars(v) for k, v in self.numeric.items()},
            "categorical": {k: vars(v) for k, v in self.categorical.items()},
            "prediction": vars(self.prediction) if self.prediction else None,
        }
        if self.missing:  # profiles without nullable features stay as they were
            out["missing"] = {k: vars(v) for k, v in self.missing.items()}
        if self.classes is not None:
            out["classes"] = vars(self.classes)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReferenceProfile:
        return cls(
            {k: NumericRef(**v) for k, v in d["numeric"].items()},
            {k: CategoricalRef(**v) for k, v in d["categorical"].items()},
            NumericRef(**d["prediction"]) if d.get("prediction") else None,
            {k: MissingRef(**v) for k, v in d.get("missing", {}).items()},
            CategoricalRef(**d["classes"]) if d.get("classes") else None,
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
    numeric, categorical, missing = {}, {}, {}
    for name, spec in cfg.features.items():
        if spec.nullable:
            gap = rows[name].isna().to_numpy(dtype=bool)
            missing[name] = MissingRef(float(gap.mean()) if len(gap) else 0.0, int(len(gap)))
            present = rows[name][~gap]
            if spec.type in ("float", "int"):
                numeric[name] = numeric_ref(present.to_numpy(dtype=float))
            else:
                categorical[name] = categorical_ref(present)
            continue
        if spec.type in ("float", "int"):
            numeric[name] = numeric_ref(rows[name].to_numpy(dtype=float))
        else:
            categorical[name] = categorical_ref(rows[name])
    if cfg.task == "multiclass" and predictions is not None:  # confidence and class mix
        prob = np.asarray(predictions, dtype=float)
        names = np.asarray(cfg.classes or [], dtype=object)[prob.argmax(axis=1)]
        mix = categorical_ref(pd.Series(names, dtype=object))
        return ReferenceProfile(numeric, categorical, numeric_ref(prob.max(axis=1)), missing, mix)
    pred = numeric_ref(predictions) if predictions is not None else None
    return ReferenceProfile(numeric, categorical, pred, missing)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    e = np.clip(np.asarray(expected, float), EPS, None)
    a = np.clip(np.asarray(actual, float), EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


KS_GRID = 2001  # points of the reference CDF at which the current CDF is compared


def ks_pvalue(d: float, n_ref: int, n: int) -> float:
    """Two-sample KS p-value: exact for small effective sizes, asymptotic (Kolmogorov) above
    10,000, where the two agree closely and the exact one is slow."""
    from scipy import stats  # imported where a test statistic is computed: slow to load

    m = n_ref * n / (n_ref + n)
    if m > 10_000:
        return float(stats.kstwobign.sf(d * np.sqrt(m)))
    return float(stats.kstwo.sf(d, max(int(round(m)), 1)))


def _ref_cdfs(ref: NumericRef, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference CDF just below and at each grid point, from its stored quantiles
    (linear between distinct quantiles; a value repeated across quantiles is an atom)."""
    q = np.asarray(ref.quantiles)
    probs = np.linspace(0, 1, len(q))
    knots, first = np.unique(q, return_index=True)
    last = len(q) - 1 - np.unique(q[::-1], return_index=True)[1]
    p_first, p_last = probs[first], probs[last]
    # between knots k and k+1 the CDF rises from p_last[k] to p_first[k+1]
    k = np.searchsorted(knots, grid, side="right") - 1  # knot at or below each grid point
    inside = (k >= 0) & (k < len(knots) - 1)
    kk = np.clip(k, 0, len(knots) - 1)
    nxt = np.clip(kk + 1, 0, len(knots) - 1)
    span = np.where(inside, knots[nxt] - knots[kk], 1.0)
    frac = np.where(inside, (grid - knots[kk]) / np.where(span > 0, span, 1.0), 0.0)
    at = np.where(k < 0, 0.0, p_last[kk] + frac * (p_first[nxt] - p_last[kk]) * inside)
    at = np.where(k >= len(knots) - 1, 1.0, at)
    on_knot = (k >= 0) & (knots[kk] == grid)
    below = np.where(on_knot, np.where(kk > 0, p_first[kk], 0.0), at)
    return below, at


def numeric_drift(ref: NumericRef, x: np.ndarray) -> tuple[float, float, float]:
    """PSI, KS statistic and KS p-value of ``x`` against ``ref``.

    The current values are counted into a grid holding the PSI edges, the distinct reference
    quantiles and the reference quantile function at 2,001 probabilities. PSI comes from the
    counts between the edges (exactly as :func:`numeric_psi`); KS compares both CDFs just
    below and at every grid point (between grid points the sup can be missed by at most one
    grid cell's mass, about 0.05%).
    """
    x = np.asarray(x, dtype=float)
    if not np.isfinite(x).all():
        x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    q = np.asarray(ref.quantiles)
    fine = np.interp(np.linspace(0, 1, KS_GRID), np.linspace(0, 1, len(q)), q)
    grid = np.unique(np.concatenate([fine, q, np.asarray(ref.edges, dtype=float)]))
    xs = np.sort(x)
    lt = np.searchsorted(xs, grid, side="left")  # number of x < grid point
    le = np.searchsorted(xs, grid, side="right")  # number of x <= grid point
    at_edges = lt[np.searchsorted(grid, ref.edges)] if len(ref.edges) else np.array([], dtype=int)
    counts = np.diff(np.concatenate([[0], at_edges, [n]]))
    psi_value = psi(np.asarray(ref.shares), counts / n)
    ref_lt, ref_le = _ref_cdfs(ref, grid)
    d = float(max(np.max(np.abs(ref_lt - lt / n)), np.max(np.abs(ref_le - le / n))))
    return psi_value, d, ks_pvalue(d, ref.n, n)


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
    _, d, p = numeric_drift(ref, x)
    return d, p


def chi_square(ref: CategoricalRef, values: pd.Series) -> tuple[float, float]:
    cur = values.astype(str).value_counts()
    cats = sorted(set(ref.shares) | set(cur.index))
    observed = np.array([float(cur.get(c, 0)) for c in cats])
    expected = np.array([max(ref.shares.get(c, 0.0), EPS) for c in cats])
    expected = expected / expected.sum() * observed.sum()
    from scipy import stats

    stat, p = stats.chisquare(observed, expected)
    return float(stat), float(p)


def missing_share_drift(ref: MissingRef, gap: np.ndarray) -> tuple[float, float, float]:
    """The current share of rows missing a feature, its PSI against training's share (two
    bins: missing, present) and the chi-square p-value of the change."""
    n = len(gap)
    share = float(np.mean(gap)) if n else float("nan")
    expected = np.array([ref.share, 1 - ref.share])
    value = psi(expected, np.array([share, 1 - share]))
    from scipy import stats

    observed = np.array([share, 1 - share]) * n
    exp = np.clip(expected, EPS, None)
    _, p = stats.chisquare(observed, exp / exp.sum() * n)
    return share, value, float(p)
