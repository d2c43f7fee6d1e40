"""The Software 1.0 baseline: a one-split rule (a stump) learned on the training rows."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pandas as pd

from shared.config import ProjectConfig
from shared.data.features import as_numbers, missing

from .base import META, FitReport


# -- Software 1.0 baseline ---------------------------------------------------------------
def _stump_order(x: pd.Series, kind: str, y: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """A feature as numbers to split on; a category becomes its mean target (its levels
    sorted by it), so one threshold picks the best group of levels. A missing value of a
    nullable feature is NaN."""
    gap = missing(x)
    if kind != "category":
        if gap.any():
            return as_numbers(x, gap), []
        return x.astype(float).to_numpy(), []
    text = x.astype(str).to_numpy()
    means = pd.Series(y[~gap]).groupby(text[~gap]).mean()
    order = means.reindex(text).to_numpy(dtype=float)
    if gap.any():
        order = np.where(gap, np.nan, order)
    return order, [str(v) for v in means.index]


def learn_stump(
    rows: pd.DataFrame, y: np.ndarray, cfg: ProjectConfig, bins: int = 64
) -> dict[str, Any]:
    """The one-feature split of the training rows that explains the most of ``y``'s variance
    (squared error; for 0/1 labels the Gini impurity): feature, threshold, both sides' answers.

    Rows missing a nullable feature's value go to the side where they cost less (``missing``:
    ``left`` or ``right``; with no gap in training, the larger side); the sides' answers
    come from the rows that have the value.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    min_leaf = max(5, n // 100)
    best: tuple[float, str, float, str] | None = None
    for name, spec in cfg.features.items():
        if spec.type == "str":
            continue
        x, _ = _stump_order(rows[name], spec.type, y)
        gap = np.isnan(x)
        gaps = bool(gap.any())
        xp, yp, ym = (x[~gap], y[~gap], y[gap]) if gaps else (x, y, y[:0])
        n_p = len(yp)
        if n_p == 0:
            continue
        order = np.argsort(xp, kind="stable")
        xs, ys = xp[order], yp[order]
        cut = np.unique(np.quantile(xs, np.linspace(0, 1, bins + 1)[1:-1]))
        left_n = np.searchsorted(xs, cut, side="right")
        ok = (left_n >= min_leaf) & (n_p - left_n >= min_leaf)
        if not ok.any():
            continue
        s1, s2 = np.concatenate([[0], np.cumsum(ys)]), np.concatenate([[0], np.cumsum(ys**2)])
        ln, rn = left_n[ok], n_p - left_n[ok]
        sse = s2[ln] - s1[ln] ** 2 / ln + (s2[n_p] - s2[ln]) - (s1[n_p] - s1[ln]) ** 2 / rn
        side = np.full(len(sse), "left", dtype=object)
        if gaps:  # the missing rows' squared error on either side's mean
            m_left, m_right = s1[ln] / ln, (s1[n_p] - s1[ln]) / rn
            nm, t1, t2 = len(ym), ym.sum(), (ym**2).sum()
            on_left = t2 - 2 * m_left * t1 + nm * m_left**2
            on_right = t2 - 2 * m_right * t1 + nm * m_right**2
            side = np.where(on_right < on_left, "right", "left")
            sse = sse + np.minimum(on_left, on_right)
        k = int(np.argmin(sse))
        if best is None or sse[k] < best[0] - 1e-9:
            if not gaps and spec.nullable:  # none missing in training: the larger side
                side[k] = "right" if rn[k] > ln[k] else "left"
            best = (float(sse[k]), name, float(cut[ok][k]), str(side[k]))
    if best is None:  # nothing to split on: the training average
        return {"feature": "", "threshold": 0.0, "left": float(y.mean()), "right": float(y.mean())}
    _, name, threshold, side = best
    spec = cfg.features[name]
    x, levels = _stump_order(rows[name], spec.type, y)
    present = ~np.isnan(x)
    right = x > threshold
    median = cfg.task == "regression" and cfg.training.key_metric == "mae"

    def answer(part: np.ndarray) -> float:
        if cfg.task == "binary":  # smoothed positive rate: never exactly 0 or 1
            return float((part.sum() + 1) / (len(part) + 2))
        return float(np.median(part) if median else part.mean())

    stump: dict[str, Any] = {
        "feature": name,
        "threshold": threshold,
        "left": answer(y[present & ~right]),
        "right": answer(y[present & right]),
    }
    if levels:
        text = rows[name].astype(str).to_numpy()
        stump["right_values"] = sorted(set(text[present & right].tolist()))
    if spec.nullable or not present.all():
        stump["missing"] = side
    return stump


def _numeric_fill(rows: pd.DataFrame, cfg: ProjectConfig) -> dict[str, float]:
    """The training median of each nullable number or bool (what the rules use for a gap)."""
    fill = {}
    for name in cfg.nullable_features:
        if cfg.features[name].type in ("float", "int", "bool"):
            x = as_numbers(rows[name])
            x = x[~np.isnan(x)]
            fill[name] = float(np.median(x)) if len(x) else 0.0
    return fill


class Baseline:
    """The rule a team would ship without ML (see ``BaselineSettings``). ``stump``: the best
    one-feature split learned from the training rows; ``eta``: prep time + distance at a
    typical speed + handling + rain and courier-load buffers; ``mean``/``base_rate``: the
    training average; ``threshold``: ``p_above`` above a feature threshold, else ``p_below``.

    Missing values (nullable features): the stump routes them to the side learned at
    training (``missing``); ``eta`` and ``threshold`` read a missing number or bool as its
    training median (``fill``); ``mean`` and ``base_rate`` read no feature."""

    family = "baseline"
    device = "cpu"

    def __init__(self, cfg: ProjectConfig, stats: dict[str, Any] | None = None) -> None:
        self.cfg = cfg  # the rule and its params are checked when the config is loaded
        self.rule = cfg.baseline.rule
        self.params = dict(cfg.baseline.params)
        self.stats = stats or {}

    def fit(self, rows: pd.DataFrame, y: np.ndarray) -> FitReport:
        t0 = time.perf_counter()
        self.stats = {"mean": float(np.mean(y))}
        if self.cfg.task == "multiclass":  # class shares: overall and per side of a split
            from shared.model.multiclass import class_shares, learn_class_stump

            self.stats["shares"] = class_shares(y, len(self.cfg.classes or []))
            if self.rule == "stump":
                self.stats["stump"] = learn_class_stump(rows, y, self.cfg)
            return FitReport(self.family, "cpu", time.perf_counter() - t0, 0)
        if self.rule == "stump":
            self.stats["stump"] = learn_stump(rows, y, self.cfg)
        fill = _numeric_fill(rows, self.cfg)
        if fill:
            self.stats["fill"] = fill
        return FitReport(self.family, "cpu", time.perf_counter() - t0, 0)

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        n = len(rows)
        p = self.params
        if self.cfg.task == "multiclass":  # an (n, K) matrix of class probabilities
            from shared.model.multiclass import stump_answer

            if self.rule == "stump" and "stump" in self.stats:
                return stump_answer(self.stats["stump"], rows)
            return np.tile(np.asarray(self.stats["shares"], dtype=float), (n, 1))
        if self.rule == "stump" and "stump" in self.stats:
            st = self.stats["stump"]
            if not st["feature"]:
                return np.full(n, st["left"])
            x = rows[st["feature"]]
            gap = missing(x) if "missing" in st else None
            if gap is not None and gap.any():
                x = x.where(~gap)
            if "right_values" in st:
                right = x.astype(str).isin(st["right_values"]).to_numpy()
            else:
                values = as_numbers(x) if gap is not None else x.astype(float).to_numpy()
                right = values > st["threshold"]
            if gap is not None:
                right = np.where(gap, st["missing"] == "right", right)
            return np.where(right, st["right"], st["left"])
        if self.stats.get("fill"):
            rows = _filled(rows, self.stats["fill"])
        if self.rule == "eta":
            minutes = rows["prep_minutes"].astype(float).to_numpy()
            minutes = (
                minutes
                + rows["distance_km"].astype(float).to_numpy()
                / float(p.get("speed_kmh", 17))
                * 60.0
            )
            minutes = minutes + float(p.get("handling_minutes", 3))
            if "rain" in rows:
                minutes = (
                    minutes
                    + float(p.get("rain_minutes", 4)) * rows["rain"].astype(float).to_numpy()
                )
            if "courier_load" in rows:
                minutes = (
                    minutes
                    + float(p.get("load_minutes_per_order", 0.6))
                    * rows["courier_load"].astype(float).to_numpy()
                )
            return minutes
        if self.rule == "threshold":
            above = rows[str(p["feature"])].astype(float).to_numpy() > float(p.get("above", 0))
            return np.where(above, float(p.get("p_above", 0.8)), float(p.get("p_below", 0.2)))
        return np.full(n, self.stats.get("mean", 0.0))

    def to_files(self) -> dict[str, bytes]:
        meta = {
            "family": self.family,
            "rule": self.rule,
            "params": self.params,
            "stats": self.stats,
        }
        return {META: json.dumps(meta, indent=2).encode()}

    @classmethod
    def from_files(cls, files: dict[str, bytes], cfg: ProjectConfig) -> Baseline:
        meta = json.loads(files[META])
        return cls(cfg, meta["stats"])


def _filled(rows: pd.DataFrame, fill: dict[str, float]) -> pd.DataFrame:
    """``rows`` with each gap of the ``fill`` features replaced by its training median."""
    out = rows.copy()
    for name, value in fill.items():
        if name in out:
            x = out[name]
            gap = missing(x)
            if gap.any():
                out[name] = (
                    pd.to_numeric(x.astype(object).where(~gap), errors="coerce")
                    .astype(float)
                    .fillna(value)
                )
    return out
