"""Multiclass tasks: labels as class indices, probability matrices, metrics, the class
stump (the Software 1.0 baseline) and conformal prediction sets.

A multiclass model answers an ``(n, K)`` matrix of class probabilities, columns in the
order of the project's ``classes``; a label is the index of its class (as a float, so it
travels where regression targets and 0/1 labels do). The predicted class is the most
probable one. Prediction sets (split conformal, score ``1 - p(true class)``) hold every
class whose probability is at least ``1 - q`` and always the predicted class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shared.config import ProjectConfig

MULTICLASS = ("log_loss", "accuracy", "macro_f1")
SET_SEPARATOR = "|"  # a prediction set as text: its classes in class order, "a|c"


def class_index(values: Any, classes: list[str]) -> np.ndarray:
    """Each label's class index as a float; NaN where it is not one of ``classes``."""
    at = {c: float(i) for i, c in enumerate(classes)}
    text = pd.Series(values, dtype="object").astype("string")
    return text.map(at).astype(float).to_numpy()


def as_proba(p: np.ndarray, k: int) -> np.ndarray:
    """``p`` as an ``(n, k)`` matrix of probabilities (rows clipped and summing to 1)."""
    m = np.asarray(p, dtype=float).reshape(-1, k)
    m = np.clip(m, 1e-7, 1.0)
    return m / m.sum(axis=1, keepdims=True)


def confusion_matrix(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """Counts: row = true class, column = predicted class."""
    y = np.asarray(y, dtype=int)
    pred = np.asarray(pred, dtype=int)
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k)


def _f1(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return precision, recall, f1


def multiclass_metrics(
    y: np.ndarray, p: np.ndarray, classes: list[str] | None = None
) -> dict[str, float]:
    """Log loss, accuracy and macro F1 (over the classes that occur or are predicted);
    with ``classes``, each class's recall too (``recall_<class>``: what costs weigh)."""
    y = np.asarray(y, dtype=float).astype(int)
    if len(y) == 0:
        return {m: float("nan") for m in MULTICLASS}
    k = np.asarray(p).shape[-1] if np.ndim(p) == 2 else int(y.max()) + 1
    prob = as_proba(p, k)
    pred = prob.argmax(axis=1)
    cm = confusion_matrix(y, pred, k)
    _, recall, f1 = _f1(cm)
    seen = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    out = {
        "log_loss": float(-np.log(prob[np.arange(len(y)), y]).mean()),
        "accuracy": float((pred == y).mean()),
        "macro_f1": float(f1[seen].mean()),
    }
    for name, r in zip(classes or [], recall.tolist(), strict=False):
        out[f"recall_{name}"] = float(r)
    return out


def per_class_metrics(y: np.ndarray, p: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (what the app shows beside the matrix)."""
    k = len(classes)
    y = np.asarray(y, dtype=float).astype(int)
    cm = confusion_matrix(y, as_proba(p, k).argmax(axis=1), k)
    precision, recall, f1 = _f1(cm)
    return pd.DataFrame(
        {
            "class": classes,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": cm.sum(axis=1),
        }
    )


CLASSES_FILE = "classes.json"  # a multiclass version's holdout confusion and per-class table


def class_report(y: np.ndarray, p: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """The holdout's confusion matrix (rows: true class, columns: predicted) and per-class
    precision, recall, F1 and support, as JSON-ready lists (kept with the model version)."""
    k = len(classes)
    yi = np.asarray(y, dtype=float).astype(int)
    cm = confusion_matrix(yi, as_proba(p, k).argmax(axis=1), k)
    table = per_class_metrics(yi, p, classes)
    return {
        "classes": list(classes),
        "confusion": cm.tolist(),
        "per_class": table.astype({"support": int}).to_dict("records"),
    }


def class_shares(y: np.ndarray, k: int) -> list[float]:
    """Smoothed class shares (never exactly 0): the ``majority`` baseline's answer."""
    counts = np.bincount(np.asarray(y, dtype=float).astype(int), minlength=k)[:k]
    return ((counts + 1) / (counts.sum() + k)).tolist()


def learn_class_stump(
    rows: pd.DataFrame, y: np.ndarray, cfg: ProjectConfig, bins: int = 64
) -> dict[str, Any]:
    """The one-feature split of the training rows with the least Gini impurity over the
    classes, and both sides' smoothed class shares. A category feature is ordered by the
    share of one class per level (each class tried), so one threshold picks a group."""
    k = len(cfg.classes or [])
    yi = np.asarray(y, dtype=float).astype(int)
    onehot = np.eye(k)[yi]
    n = len(yi)
    min_leaf = max(5, n // 100)
    best: tuple[float, str, float, int] | None = None
    for name, spec in cfg.features.items():
        if spec.type == "str":
            continue
        for order_by in range(k if spec.type == "category" else 1):
            x, _ = _ordered(rows[name], spec.type, onehot[:, order_by])
            order = np.argsort(x, kind="stable")
            xs, ys = x[order], onehot[order]
            cut = np.unique(np.quantile(xs, np.linspace(0, 1, bins + 1)[1:-1]))
            left_n = np.searchsorted(xs, cut, side="right")
            ok = (left_n >= min_leaf) & (n - left_n >= min_leaf)
            if not ok.any():
                continue
            cum = np.vstack([np.zeros(k), np.cumsum(ys, axis=0)])
            ln, rn = left_n[ok], n - left_n[ok]
            left, right = cum[ln], cum[n] - cum[ln]
            # impurity (one-hot squared error): n - sum(c^2)/m per side
            gini = n - (left**2).sum(axis=1) / ln - (right**2).sum(axis=1) / rn
            j = int(np.argmin(gini))
            if best is None or gini[j] < best[0] - 1e-9:
                best = (float(gini[j]), name, float(cut[ok][j]), order_by)
    if best is None:
        shares = class_shares(yi, k)
        return {"feature": "", "threshold": 0.0, "left": shares, "right": shares}
    _, name, threshold, order_by = best
    spec = cfg.features[name]
    x, levels = _ordered(rows[name], spec.type, onehot[:, order_by])
    right = x > threshold
    stump: dict[str, Any] = {
        "feature": name,
        "threshold": threshold,
        "left": class_shares(yi[~right], k),
        "right": class_shares(yi[right], k),
    }
    if levels:
        text = rows[name].astype(str).to_numpy()
        stump["right_values"] = sorted(set(text[right].tolist()))
    return stump


def _ordered(x: pd.Series, kind: str, share_of: np.ndarray) -> tuple[np.ndarray, list[str]]:
    if kind != "category":
        return x.astype(float).to_numpy(), []
    text = x.astype(str).to_numpy()
    means = pd.Series(share_of).groupby(text).mean()
    return means.reindex(text).to_numpy(dtype=float), [str(v) for v in means.index]


def stump_answer(stump: dict[str, Any], rows: pd.DataFrame) -> np.ndarray:
    """The class stump's probability matrix for ``rows``."""
    left, right_p = np.asarray(stump["left"]), np.asarray(stump["right"])
    if not stump["feature"]:
        return np.tile(left, (len(rows), 1))
    x = rows[stump["feature"]]
    if "right_values" in stump:
        right = x.astype(str).isin(stump["right_values"]).to_numpy()
    else:
        right = x.astype(float).to_numpy() > stump["threshold"]
    return np.where(right[:, None], right_p[None, :], left[None, :])


# -- conformal prediction sets --------------------------------------------------------------
def set_scores(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Conformity scores ``1 - p(true class)`` of labelled rows."""
    prob = np.asarray(p, dtype=float)
    return 1.0 - prob[np.arange(len(prob)), np.asarray(y, dtype=float).astype(int)]


def set_mask(p: np.ndarray, q: np.ndarray | float) -> np.ndarray:
    """Which classes are in each row's set: ``1 - p_k <= q``, and always the most probable."""
    prob = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float).reshape(-1, 1) if np.ndim(q) else q
    with np.errstate(invalid="ignore"):
        mask = (1.0 - prob) <= q
    top = np.zeros_like(mask)
    ok = np.isfinite(prob).all(axis=1)
    top[np.flatnonzero(ok), prob[ok].argmax(axis=1)] = True
    return (mask | top) & ok[:, None]


def set_text(mask: np.ndarray, classes: list[str]) -> np.ndarray:
    """Each row's set as text (classes in class order joined by ``|``; "" for no set)."""
    names = np.asarray(classes, dtype=object)
    return np.asarray([SET_SEPARATOR.join(names[row]) for row in mask], dtype=object)


def set_coverage(labels: Any, sets: Any) -> float:
    """Share of labelled rows whose class lies in their prediction set (NaN: none)."""
    ok = [
        (str(lab), str(s))
        for lab, s in zip(labels, sets, strict=True)
        if isinstance(s, str) and s and lab is not None and not pd.isna(lab)
    ]
    if not ok:
        return float("nan")
    return float(np.mean([lab in s.split(SET_SEPARATOR) for lab, s in ok]))
