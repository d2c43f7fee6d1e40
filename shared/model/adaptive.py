"""Adaptive conformal intervals: the calibrated quantile tracked online from arriving labels.

Split conformal (:mod:`shared.model.conformal`) guarantees coverage for rows exchangeable
with the calibration rows; under drift (the demo's drifted day) the residuals grow and the
coverage falls below nominal until a retraining. Adaptive conformal inference (Gibbs &
Candes 2021) restores it between retrainings by moving the miscoverage level online,
``alpha_{t+1} = alpha_t + gamma * (alpha - err_t)``. Renkei uses its *quantile-tracking*
variant (Angelopoulos, Candes & Tibshirani 2023, "Conformal PID control", the P term): the
quantile itself moves, ``q_{t+1} = q_t + eta * (err_t - alpha)``, which needs no stored
calibration scores (the bundle keeps only ``q``) and has the same long-run guarantee: over
``T`` labels the miscoverage is within ``(B + eta) / (eta * T)`` of ``alpha`` for a quantile
bounded by ``B``, whatever the drift.

State: one *factor* ``f`` per alias and deployment (1 at deployment: the calibrated
quantile), bounded to ``[min_factor, max_factor]``, applied to both calibrated quantiles
(the model's and the baseline's: ``q * f``), so the step ``gamma`` is unit-free and the same
for regression (normalised residuals), binary and multiclass (``1 - p(true class)``).
Each labelled answer becomes a score ``u = s / q`` (its conformity score over the quantile
of the model that answered it) and whether its set holds the truth whatever the quantile
(binary and multiclass keep the answered class): at factor ``f`` it is covered when
``always or u <= f``. Labels are applied one by one in arrival order (the online update), a
delivered batch at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from shared.config.intervals import AdaptiveSettings
from shared.model.conformal import Calibration


@dataclass(frozen=True)
class LabelScores:
    """Labelled answers in arrival order: each one's score over its calibrated quantile and
    whether its set holds the truth at any quantile (the answered class)."""

    u: np.ndarray
    always: np.ndarray

    def __len__(self) -> int:
        return len(self.u)

    def covered(self, factor: float | np.ndarray) -> np.ndarray:
        """Which answers the interval (set) at ``factor`` covers."""
        with np.errstate(invalid="ignore"):
            return self.always | (self.u <= factor)

    def take(self, rows: np.ndarray | slice) -> LabelScores:
        return LabelScores(self.u[rows], self.always[rows])


@dataclass(frozen=True)
class Step:
    """One adaptive update: the factor before and after ``labels`` labels, and how many of
    them the intervals at the old factor covered."""

    old_factor: float
    new_factor: float
    labels: int
    covered: int


def adapted(calibration: Calibration, factor: float) -> Calibration:
    """``calibration`` with both quantiles scaled by ``factor`` (1: unchanged)."""
    if factor == 1.0:
        return calibration
    return replace(
        calibration,
        model=replace(calibration.model, q=calibration.model.q * factor),
        baseline=replace(calibration.baseline, q=calibration.baseline.q * factor),
    )


def label_scores(
    calibration: Calibration,
    prediction: np.ndarray,
    y: np.ndarray,
    by_model: np.ndarray,
    threshold: float = 0.5,
    probabilities: np.ndarray | None = None,
) -> LabelScores:
    """The labelled answers' scores in factor units (see the module docstring).

    ``prediction``: the answers (regression: the served value; binary: the probability of
    class 1; multiclass: unused, ``probabilities`` holds every class's); ``by_model``: the
    model answered (else the baseline: its quantile).
    """
    y = np.asarray(y, dtype=float)
    pred = np.asarray(prediction, dtype=float)
    q = np.where(by_model, calibration.model.q, calibration.baseline.q)
    task = calibration.task
    if task == "multiclass":
        from shared.model.multiclass import set_scores

        assert probabilities is not None, "multiclass scores need every class's probability"
        p = np.asarray(probabilities, dtype=float)
        score = set_scores(np.nan_to_num(p, nan=0.0), y)
        always = np.nan_to_num(p, nan=-1.0).argmax(axis=1) == y.astype(int)
    elif task == "binary":
        p = np.clip(pred, 0.0, 1.0)
        score = np.where(y > 0.5, 1.0 - p, p)
        always = (p >= threshold) == (y > 0.5)
    else:
        m, b = calibration.model, calibration.baseline
        with np.errstate(invalid="ignore"):
            scale = np.where(
                by_model,
                np.maximum(m.a + m.b * pred, m.floor),
                np.maximum(b.a + b.b * pred, b.floor),
            )
        score = np.abs(y - pred) / scale
        always = np.zeros(len(y), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(q > 0, score / q, np.where(score > 0, np.inf, 0.0))
    keep = np.isfinite(y) & ~np.isnan(u)
    return LabelScores(u[keep], always[keep])


def track(scores: LabelScores, factor: float, coverage: float, s: AdaptiveSettings) -> Step:
    """The factor after the labels ``scores`` (in arrival order), one online update each:
    ``f <- clip(f + gamma * (err - alpha), min_factor, max_factor)``, ``alpha = 1 - coverage``."""
    alpha = 1.0 - coverage
    f = factor
    for u, always in zip(scores.u.tolist(), scores.always.tolist(), strict=True):
        err = 0.0 if (always or u <= f) else 1.0
        f = min(max(f + s.gamma * (err - alpha), s.min_factor), s.max_factor)
    covered = int(scores.covered(factor).sum())
    return Step(factor, f, len(scores), covered)


@dataclass(frozen=True)
class Replay:
    """Coverage of labelled answers replayed in arrival order, without adaptation (the
    calibrated quantile) and with it (each batch answered at the factor the batches before
    it left), and the factor after each batch."""

    labels: int
    batches: int
    without: float
    with_adaptation: float
    factors: list[float]


def replay(
    scores: LabelScores, batch_size: int, coverage: float, s: AdaptiveSettings, factor: float = 1.0
) -> Replay:
    """The protocol: deliver ``scores`` (arrival order) in batches of ``batch_size``; each
    batch's answers carry the interval at the current factor, then the factor adapts."""
    if batch_size <= 0:
        raise ValueError("batch_size must be positive")
    hits, factors = 0, []
    for start in range(0, len(scores), batch_size):
        batch = scores.take(slice(start, start + batch_size))
        step = track(batch, factor, coverage, s)
        hits += step.covered
        factor = step.new_factor
        factors.append(factor)
    n = len(scores)
    without = float(scores.covered(1.0).mean()) if n else math.nan
    return Replay(n, len(factors), without, hits / n if n else math.nan, factors)
