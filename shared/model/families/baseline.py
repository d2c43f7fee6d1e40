"""The Software 1.0 baseline: a one-split rule (a stump) learned on the training rows."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pandas as pd

from shared.config import ProjectConfig

from .base import META, FitReport


# -- Software 1.0 baseline ---------------------------------------------------------------
def _stump_order(x: pd.Series, kind: str, y: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """A feature as numbers to split on; a category becomes its mean target (its levels
    sorted by it), so one threshold picks the best group of levels."""
    if kind != "category":
        return x.astype(float).to_numpy(), []
    text = x.astype(str).to_numpy()
    means = pd.Series(y).groupby(text).mean()
    return means.reindex(text).to_numpy(dtype=float), [str(v) for v in means.index]


def learn_stump(
    rows: pd.DataFrame, y: np.ndarray, cfg: ProjectConfig, bins: int = 64
) -> dict[str, Any]:
    """The one-feature split of the training rows that explains the most of ``y``'s variance
    (squared error; for 0/1 labels the Gini impurity): feature, threshold, both sides' answers.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    min_leaf = max(5, n // 100)
    best: tuple[float, str, float] | None = None
    for name, spec in cfg.features.items():
        if spec.type == "str":
            continue
        x, _ = _stump_order(rows[name], spec.type, y)
        order = np.argsort(x, kind="stable")
        xs, ys = x[order], y[order]
        cut = np.unique(np.quantile(xs, np.linspace(0, 1, bins + 1)[1:-1]))
        left_n = np.searchsorted(xs, cut, side="right")
        ok = (left_n >= min_leaf) & (n - left_n >= min_leaf)
        if not ok.any():
            continue
        s1, s2 = np.concatenate([[0], np.cumsum(ys)]), np.concatenate([[0], np.cumsum(ys**2)])
        ln, rn = left_n[ok], n - left_n[ok]
        sse = s2[ln] - s1[ln] ** 2 / ln + (s2[n] - s2[ln]) - (s1[n] - s1[ln]) ** 2 / rn
        k = int(np.argmin(sse))
        if best is None or sse[k] < best[0] - 1e-9:
            best = (float(sse[k]), name, float(cut[ok][k]))
    if best is None:  # nothing to split on: the training average
        return {"feature": "", "threshold": 0.0, "left": float(y.mean()), "right": float(y.mean())}
    _, name, threshold = best
    spec = cfg.features[name]
    x, levels = _stump_order(rows[name], spec.type, y)
    right = x > threshold
    median = cfg.task == "regression" and cfg.training.key_metric == "mae"

    def answer(part: np.ndarray) -> float:
        if cfg.task == "binary":  # smoothed positive rate: never exactly 0 or 1
            return float((part.sum() + 1) / (len(part) + 2))
        return float(np.median(part) if median else part.mean())

    stump: dict[str, Any] = {
        "feature": name,
        "threshold": threshold,
        "left": answer(y[~right]),
        "right": answer(y[right]),
    }
    if levels:
        text = rows[name].astype(str).to_numpy()
        stump["right_values"] = sorted(set(text[right].tolist()))
    return stump


class Baseline:
    """The rule a team would ship without ML (see ``BaselineSettings``). ``stump``: the best
    one-feature split learned from the training rows; ``eta``: prep time + distance at a
    typical speed + handling + rain and courier-load buffers; ``mean``/``base_rate``: the
    training average; ``threshold``: ``p_above`` above a feature threshold, else ``p_below``."""

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
            if "right_values" in st:
                right = x.astype(str).isin(st["right_values"]).to_numpy()
            else:
                right = x.astype(float).to_numpy() > st["threshold"]
            return np.where(right, st["right"], st["left"])
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
