"""Conformal intervals: every answer gets ``[low, high]`` at the coverage set in config.

Method: **split conformal**, calibrated at training on the validation split, rather than
MAPIE. MAPIE is not installed here and would be a new dependency for what is, for one
fitted model and one calibration set, a sorted array and a quantile; split conformal's
guarantee is exact and finite-sample (for rows exchangeable with the calibration rows,
``P(y in [low, high]) >= coverage``, and at most ``coverage + 1 / (n + 1)``), and its whole
state is four numbers per model that go into the bundle as JSON and cost nothing to apply
when serving (no second model per request).

Regression (normalised split conformal): the validation rows are split in two at random
(seeded). On the first half a *scale* is fitted by least squares: ``|y - yhat| ~ a + b * yhat``
(an ETA of an hour is less certain than one of ten minutes), kept above a floor. On the
second half the conformity score is ``|y - yhat| / scale(yhat)`` and ``q`` is its
``ceil((n + 1) * coverage)``-th smallest value; the interval is ``yhat +- q * scale(yhat)``.
The scale only changes the *shape* (wider for long answers); the coverage guarantee comes from
the calibration half alone, so it holds however good the scale is. A constant width
(``b = 0``) would be just as valid, but every answer would have the same width and a width
rule could never tell an uncertain answer from a sure one. The guarantee is marginal (over
rows), not per row, and the early stopping of the learned families also looks at the
validation split, which can make the model's residuals there slightly optimistic; the
acceptance test measures coverage on rows the model never saw.

Binary: conformal prediction sets with the score ``1 - p(true class)``: class 1 is in the set
when ``1 - p <= q``, class 0 when ``p <= q``, and the answered class is always kept (the set
is never empty). The set is written as an interval over the classes: ``[0, 0]``, ``[1, 1]``
or ``[0, 1]`` (both classes possible: width 1). The probability itself is the model's; it
is not recalibrated here (the set, not the probability, carries the guarantee).

The model's and the baseline's calibrations are both kept: a row the baseline answers
(fallback) gets the baseline's interval. The served answer (after floor, cap and rounding)
is always inside its interval: the bounds are widened to reach it, which can only raise
coverage.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from shared.config import ProjectConfig

CALIBRATION_FILE = "calibration.json"


@dataclass(frozen=True)
class Scale:
    """One model's calibrated half-width: ``q * max(a + b * answer, floor)``."""

    q: float
    a: float = 1.0
    b: float = 0.0
    floor: float = 0.0

    def half_width(self, answer: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return self.q * np.maximum(self.a + self.b * answer, self.floor)


@dataclass(frozen=True)
class Calibration:
    """The bundle's calibration: coverage and the model's and the baseline's scales."""

    task: str
    coverage: float
    model: Scale
    baseline: Scale
    rows: int  # calibration rows (the quantile's half of the validation split)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Calibration:
        d = json.loads(data)
        return cls(d["task"], d["coverage"], Scale(**d["model"]), Scale(**d["baseline"]), d["rows"])

    def half_width(self, raw: np.ndarray, by_model: np.ndarray) -> np.ndarray:
        """Half-widths of raw answers: the model's scale where ``by_model``, else the baseline's."""
        return np.where(by_model, self.model.half_width(raw), self.baseline.half_width(raw))

    def width(self, raw: np.ndarray, threshold: float = 0.5) -> np.ndarray:
        """The model's interval width for raw model answers (the interval rule's measure;
        binary: 1 where the set holds both classes, the answered one included)."""
        if self.task == "binary":
            p = np.clip(raw, 0.0, 1.0)
            low, high = _class_set(p, self.model.half_width(raw), p >= threshold)
            return high - low
        return 2 * self.model.half_width(raw)

    def bounds(
        self,
        raw: np.ndarray,
        half: np.ndarray,
        answer: np.ndarray,
        answered: np.ndarray,
        threshold: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``[low, high]`` per row around the raw answers, widened to hold the served
        ``answer``; NaN where no answer was given."""
        if self.task == "binary":
            cls = np.where(answered, answer >= threshold, False)
            low, high = _class_set(np.clip(raw, 0.0, 1.0), half, cls)
        else:
            with np.errstate(invalid="ignore"):
                low = np.fmin(raw - half, answer)
                high = np.fmax(raw + half, answer)
        return np.where(answered, low, np.nan), np.where(answered, high, np.nan)


def _class_set(
    p: np.ndarray, q: np.ndarray, answered_class: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A binary prediction set as [low, high] over the classes {0, 1}."""
    with np.errstate(invalid="ignore"):
        has1 = 1.0 - p <= q
        has0 = p <= q
    has1 |= answered_class
    has0 |= ~answered_class
    return np.where(has0, 0.0, 1.0), np.where(has1, 1.0, 0.0)


def conformal_quantile(scores: np.ndarray, coverage: float) -> float:
    """The ``ceil((n + 1) * coverage)``-th smallest score (inf when n is too small for it)."""
    s = np.sort(np.asarray(scores, dtype=float))
    k = math.ceil((len(s) + 1) * coverage)
    return float(s[k - 1]) if k <= len(s) else math.inf


def _scale(
    answer: np.ndarray,
    y: np.ndarray,
    task: str,
    coverage: float,
    fit_rows: np.ndarray,
    cal_rows: np.ndarray,
) -> Scale:
    if task == "multiclass":  # score: 1 - p(true class), on every validation row
        from .multiclass import set_scores

        return Scale(conformal_quantile(set_scores(answer, y), coverage))
    if task == "binary":  # score: 1 - p(true class), on every validation row
        p = np.clip(answer, 0.0, 1.0)
        return Scale(conformal_quantile(np.where(y > 0.5, 1.0 - p, p), coverage))
    resid = np.abs(y - answer)
    x = np.column_stack([np.ones(int(fit_rows.sum())), answer[fit_rows]])
    a_, b_ = np.linalg.lstsq(x, resid[fit_rows], rcond=None)[0]
    floor = max(0.25 * float(resid[fit_rows].mean()), 1e-6)
    s = Scale(1.0, float(a_), float(b_), floor)
    q = conformal_quantile(resid[cal_rows] / s.half_width(answer[cal_rows]), coverage)
    return Scale(q, s.a, s.b, s.floor)


def _predict(model: Any, rows: pd.DataFrame, cfg: ProjectConfig) -> np.ndarray:
    """``model``'s predictions for ``rows``, made ``training.memory.batch_rows`` rows at a
    time (the same values: each row's prediction is its own), so that a model's working
    memory (an MLP's activations, a DMatrix) does not grow with the calibration rows."""
    step = cfg.training.memory.batch_rows
    if len(rows) <= step:
        return np.asarray(model.predict(rows), dtype=float)
    return np.concatenate(
        [
            np.asarray(model.predict(rows.iloc[i : i + step]), dtype=float)
            for i in range(0, len(rows), step)
        ]
    )


def calibrate(
    model: Any, baseline: Any, rows: pd.DataFrame, y: np.ndarray, cfg: ProjectConfig
) -> Calibration | None:
    """Calibrate the model's and the baseline's intervals on ``rows`` (the validation split).

    None when the rows are too few for the coverage (``(n + 1) * coverage > n``: the
    interval would be infinite): the bundle then carries no intervals.
    """
    coverage = cfg.intervals.coverage
    n = len(rows)
    order = np.random.default_rng(cfg.training.seed).permutation(n)
    fit_rows = np.zeros(n, dtype=bool)
    if cfg.task == "regression":
        fit_rows[order[: n // 2]] = True
    cal_rows = ~fit_rows
    scales = [
        _scale(_predict(m, rows, cfg), y, cfg.task, coverage, fit_rows, cal_rows)
        for m in (model, baseline)
    ]
    if not all(math.isfinite(s.q) for s in scales):
        return None
    return Calibration(cfg.task, coverage, scales[0], scales[1], int(cal_rows.sum()))


def empirical_coverage(y: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Share of labelled rows whose true value lies in their interval (binary: in the set)."""
    ok = np.isfinite(low) & np.isfinite(high) & np.isfinite(y)
    if not ok.any():
        return math.nan
    return float(((y[ok] >= low[ok]) & (y[ok] <= high[ok])).mean())
