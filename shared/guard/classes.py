"""The guard's answer for multiclass tasks: class probabilities, the predicted class and
the conformal prediction set, with the rules that act on the probabilities.

Called by :class:`shared.guard.plan.Plan` once the contract and the input rules have
decided which rows the model may answer. The model answers an ``(n, K)`` probability
matrix; then, on the rows it answered:

* a ``confidence`` rule (``{name, kind: confidence, min: 0.6, action: fallback}`` in
  rules.yaml's ``input``) sends a model answer whose top probability is below ``min`` to
  the baseline (or rejects it), with the rule's name as reason;
* an ``interval`` rule (``max_width``) does the same when the prediction set holds more
  than ``max_width + 1`` classes (width = classes in the set - 1, as for binary sets);
* the baseline answers the fallback rows (its own class shares); a row neither can answer
  is rejected.

Each answered row gets every class's probability, ``prediction`` (the probability of the
predicted class), ``predicted_class`` and, for a calibrated bundle, its prediction set
(the answering model's calibration: the baseline's for fallbacks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shared.model.multiclass import set_mask, set_text

if TYPE_CHECKING:
    from shared.guard.plan import Outcome, Plan
    from shared.guard.rows import Rows


def answer_classes(plan: Plan, typed: Mapping[str, np.ndarray], state: Rows, n: int) -> Outcome:
    from shared.guard.plan import Outcome

    classes = list(plan.cfg.classes or [])
    k = len(classes)
    proba = np.full((n, k), np.nan)
    use_model = state.is_("model")
    if use_model.any():
        try:
            proba[use_model] = plan._predict(plan.model, typed, use_model, n).reshape(-1, k)
        except Exception:  # the model failing is a fallback, never an outage
            state.fire(use_model, "model_error", "fallback")
        broken = use_model & ~np.isfinite(proba).all(axis=1)
        state.fire(broken & state.is_("model"), "model_non_finite", "fallback")
        _probability_rules(plan, proba, state)
    use_base = state.is_("fallback")
    if use_base.any():
        try:
            proba[use_base] = plan._predict(plan.baseline, typed, use_base, n).reshape(-1, k)
        except Exception:
            proba[use_base] = np.nan
        failed = use_base & ~np.isfinite(proba).all(axis=1)
        state.fire(failed, "fallback_failed", "rejected")
    answered = ~state.is_("rejected")
    proba[~answered] = np.nan
    proba[answered] = _normalised(proba[answered])
    top = np.where(answered, np.nan_to_num(proba, nan=-1.0).argmax(axis=1), 0)
    prediction = np.where(answered, np.nan_to_num(proba, nan=0.0).max(axis=1), np.nan)
    names = np.asarray(classes, dtype=object)
    predicted = np.where(answered, names[top], None)
    sets = None
    cal = plan.calibration
    if cal is not None:
        by_model = state.is_("model") | state.is_("corrected")
        q = np.where(by_model, cal.model.q, cal.baseline.q)
        sets = np.where(answered, set_text(set_mask(proba, q), classes), None)
    out = Outcome(prediction, state, answered, predicted)
    out.probabilities, out.prediction_set = proba, sets
    return out


def _normalised(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.0, 1.0)
    total = p.sum(axis=1, keepdims=True)
    return p / np.where(total > 0, total, 1.0)


def _probability_rules(plan: Plan, proba: np.ndarray, state: Rows) -> None:
    """Confidence and set-size rules on the model's answers (see the module docstring)."""
    cal = plan.calibration
    for rule in plan.rules.input:
        if rule.kind not in ("confidence", "interval"):
            continue
        rows = state.is_("model")
        if not rows.any():
            return
        fails = rows.copy()
        p = _normalised(proba[rows])
        if rule.kind == "confidence":
            fails[rows] = p.max(axis=1) < float(rule.min or 0.0)
        elif cal is not None:
            width = set_mask(p, cal.model.q).sum(axis=1) - 1
            fails[rows] = width > float(rule.max_width or 0)
        state.fire(fails, rule.name, "rejected" if rule.action == "reject" else "fallback")


def probability_column(name: str) -> str:
    """The column of one class's probability in scoring outputs: ``p_<class>``."""
    return f"p_{name}"


def add_class_columns(out: pd.DataFrame, done: Outcome, classes: list[str]) -> None:
    """Multiclass columns of a frame of answers: ``predicted_class`` (text),
    ``prediction_set`` (when calibrated) and one ``p_<class>`` column per class."""
    out.insert(2, "predicted_class", pd.array(done.predicted_class, dtype="string"))
    at = 3
    if done.prediction_set is not None:
        out.insert(at, "prediction_set", pd.array(done.prediction_set, dtype="string"))
        at += 1
    assert done.probabilities is not None
    for j, name in enumerate(classes):
        out.insert(at + j, probability_column(name), done.probabilities[:, j].astype(float))


def add_class_fields(records: list[dict[str, Any]], done: Outcome, classes: list[str]) -> None:
    """Multiclass fields of answers as dicts: ``probabilities`` (class -> probability, none
    where rejected) and ``prediction_set`` (a list of classes; none where rejected)."""
    assert done.probabilities is not None
    sets = done.prediction_set
    for i, (r, row) in enumerate(zip(records, done.probabilities.tolist(), strict=True)):
        answered = row[0] == row[0]
        r["probabilities"] = dict(zip(classes, row, strict=True)) if answered else None
        s = None if sets is None else sets[i]
        r["prediction_set"] = s.split("|") if isinstance(s, str) and s else None
