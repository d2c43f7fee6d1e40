"""Explanations of guarded answers: for each answer, the contributions of the model that
gave it (:mod:`shared.model.explain`), beside the guard's decision and reasons.

An answer is explained by whoever answered it: the model for ``model`` and ``corrected``
rows (a corrected answer's explanation is of the model's answer before the guard's
output rule changed it: ``raw``), the baseline's rule for ``fallback`` rows; a
``rejected`` row has no answer and no explanation. Multiclass: the answer's predicted class.

Explanations are computed on demand from the bundle (the service's ``?explain=true``,
``renkei scores --explain``, the app), never stored: the same rows and bundle give the same
explanation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shared.guard.rows import Rows, records_columns
from shared.model.explain import Contributions, explain_model

if TYPE_CHECKING:
    from shared.guard.guarded import GuardedModel


def explain_records(
    guarded: GuardedModel, records: list[dict[str, Any]], answers: list[dict[str, Any]]
) -> list[dict[str, Any] | None]:
    """The explanation of each answer (as :meth:`GuardedModel.predict_records` gave it for
    ``records``); None for rejected rows."""
    cols = records_columns(records, guarded._wanted())
    decisions = [a["decision"] for a in answers]
    classes = [a.get("predicted_class") for a in answers]
    return explain_columns(guarded, cols, len(records), decisions, classes)


def explain_frame(
    guarded: GuardedModel, raw: pd.DataFrame, answers: pd.DataFrame
) -> list[dict[str, Any] | None]:
    """The explanation of each row of ``answers`` (as :meth:`GuardedModel.predict` gave
    it for ``raw``, row for row); None for rejected rows."""
    raw = raw.reset_index(drop=True)
    cols = {c: raw[c] for c in guarded._wanted() if c in raw.columns}
    classes = answers["predicted_class"].tolist() if "predicted_class" in answers else None
    return explain_columns(guarded, cols, len(raw), answers["decision"].tolist(), classes)


def explain_columns(
    guarded: GuardedModel,
    cols: Mapping[str, Any],
    n: int,
    decisions: Sequence[str],
    predicted: Sequence[Any] | None = None,
) -> list[dict[str, Any] | None]:
    """Explanations of n answers with their ``decisions`` (and, multiclass, their
    ``predicted`` classes) for the input columns ``cols``."""
    cfg = guarded.cfg
    typed = guarded.plan._schema(cols, n, guarded._current_contracts(), Rows(n))
    decided = np.asarray(decisions, dtype=object)
    out: list[dict[str, Any] | None] = [None] * n
    names = list(cfg.classes or [])
    for model, mask in (
        (guarded.model, np.isin(decided, ["model", "corrected"])),
        (guarded.baseline, decided == "fallback"),
    ):
        at = np.flatnonzero(mask)
        if not len(at):
            continue
        part = {k: _take(v, at) for k, v in typed.items() if k in cfg.features}
        want = None
        if cfg.task == "multiclass" and predicted is not None:
            want = np.asarray([names.index(predicted[i]) for i in at.tolist()])
        c = explain_model(model, part, cfg, want)
        for j, i in enumerate(at.tolist()):
            out[i] = as_dict(c, j, names)
    return out


def as_dict(c: Contributions, j: int, classes: list[str]) -> dict[str, Any]:
    """Row ``j`` of ``c`` as JSON-ready data: who explained it and how, the scale, the
    bias, the raw answer and one contribution per feature (largest first)."""
    values = c.values[j].tolist()
    order = sorted(range(len(values)), key=lambda k: -abs(values[k]))
    return {
        "explained_by": c.family,
        "method": c.method,
        "scale": c.scale,
        "explained_class": None
        if c.explained_class is None
        else classes[int(c.explained_class[j])],
        "bias": float(c.bias[j]),
        "raw": float(c.raw[j]),
        "contributions": {c.features[k]: float(values[k]) for k in order},
        "rule": None if c.rules is None else c.rules[j],
    }


def explanation_frame(explanation: Mapping[str, Any] | None) -> pd.DataFrame:
    """One explanation as a table: feature, contribution (largest first), then the bias
    and the raw answer as the last rows (what the app and the CLI print)."""
    if not explanation:
        return pd.DataFrame(columns=["feature", "contribution"])
    rows = [{"feature": k, "contribution": v} for k, v in explanation["contributions"].items()]
    rows += [
        {"feature": "(bias)", "contribution": explanation["bias"]},
        {"feature": "= raw answer", "contribution": explanation["raw"]},
    ]
    return pd.DataFrame(rows, columns=["feature", "contribution"])


def _take(values: Any, at: np.ndarray) -> Any:
    if isinstance(values, pd.Series):
        return values.iloc[at].reset_index(drop=True)
    return np.asarray(values, dtype=object if values.dtype.kind == "O" else None)[at]
