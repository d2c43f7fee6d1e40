"""Metrics by task type, and per-slice evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd

REGRESSION = ("mae", "rmse", "p90_abs_error")
BINARY = ("roc_auc", "log_loss", "precision", "recall")


def regression_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    err = np.abs(np.asarray(y, float) - np.asarray(p, float))
    return {
        "mae": float(err.mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "p90_abs_error": float(np.quantile(err, 0.9)),
    }


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U); NaN when only one class is present."""
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata  # slow to import: only where AUC is computed

    ranks = rankdata(np.asarray(p, float))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    y = np.asarray(y).astype(bool)
    p = np.clip(np.asarray(p, float), 1e-7, 1 - 1e-7)
    pred = p >= threshold
    tp = int((pred & y).sum())
    return {
        "roc_auc": roc_auc(y, p),
        "log_loss": float(-(y * np.log(p) + (~y) * np.log(1 - p)).mean()),
        "precision": tp / int(pred.sum()) if pred.any() else 0.0,
        "recall": tp / int(y.sum()) if y.any() else 0.0,
    }


def evaluate(
    task: str,
    y: np.ndarray,
    p: np.ndarray,
    threshold: float = 0.5,
    classes: list[str] | None = None,
) -> dict[str, float]:
    """The task's metrics; multiclass with ``classes``: also each class's recall."""
    if task == "regression":
        return regression_metrics(y, p)
    if task == "multiclass":  # p: an (n, K) matrix of class probabilities
        from .multiclass import multiclass_metrics

        return multiclass_metrics(y, p, classes)
    return binary_metrics(y, p, threshold)


def slice_metrics(
    task: str,
    frame: pd.DataFrame,
    y: np.ndarray,
    p: np.ndarray,
    slices: list[str],
    threshold: float = 0.5,
) -> dict[str, dict[str, float]]:
    """Metrics per value of each slice feature, keyed ``"feature=value"``."""
    out: dict[str, dict[str, float]] = {}
    for name in slices:
        col = frame[name]  # a nullable feature's gaps are a slice of their own
        text = col.astype("string").fillna("<missing>") if col.isna().any() else col.astype(str)
        values = text.to_numpy()
        for v in sorted(set(values)):
            mask = values == v
            if mask.sum() >= 5:
                out[f"{name}={v}"] = {
                    **evaluate(task, y[mask], p[mask], threshold),
                    "rows": float(mask.sum()),
                }
    return out
