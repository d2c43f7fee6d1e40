"""Monitoring checks of multiclass tasks: the predicted class mix against the holdout's,
and the prediction sets' coverage on the labels that arrived.

Answers of a multiclass model carry ``predicted_class``, ``prediction_set`` (classes joined
by ``|``) and one ``p_<class>`` column per class; labels arrive as the class's index
(shared.operate.feedback).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared.config import MonitoringSettings, ProjectConfig
from shared.model.drift import ReferenceProfile, categorical_psi, chi_square
from shared.model.multiclass import set_coverage

from .checks import Check, Verdict, _too_few


def probabilities(frame: pd.DataFrame, cfg: ProjectConfig) -> np.ndarray:
    """The answers' ``(n, K)`` class probabilities, from their ``p_<class>`` columns."""
    return frame[[f"p_{c}" for c in cfg.classes or []]].to_numpy(dtype=float)


def check_class_mix(
    ref: ReferenceProfile, answered: pd.DataFrame, m: MonitoringSettings
) -> Check | None:
    """The share of each predicted class against the holdout's (PSI and chi-square); None
    without a reference class mix (not a multiclass model)."""
    if ref.classes is None or "predicted_class" not in answered:
        return None
    classes = answered["predicted_class"].dropna()
    if len(classes) < m.min_rows_prediction:
        return _too_few(
            "class_mix",
            "prediction_drift",
            m.prediction_psi_alert,
            len(classes),
            m.min_rows_prediction,
            "answered rows",
        )
    value = categorical_psi(ref.classes, classes)
    _, p = chi_square(ref.classes, classes)
    now = classes.astype(str).value_counts(normalize=True)
    mix = ", ".join(
        f"{c} {float(now.get(c, 0.0)):.0%} (was {share:.0%})"
        for c, share in ref.classes.shares.items()
    )
    alert = value > m.prediction_psi_alert or p < m.ks_pvalue
    return Check(
        "class_mix",
        "prediction_drift",
        value,
        m.prediction_psi_alert,
        Verdict.ALERT if alert else Verdict.OK,
        f"predicted class mix {mix}: PSI {value:.3f} (alert > {m.prediction_psi_alert}), "
        f"chi-square p={p:.2g} (alert < {m.ks_pvalue})",
    )


def check_set_coverage(
    joined: pd.DataFrame, nominal: float | None, cfg: ProjectConfig
) -> Check | None:
    """Share of labelled answers whose class lies in their prediction set, against the
    nominal coverage; None when the answers carry no sets."""
    m = cfg.monitoring
    if nominal is None or "prediction_set" not in joined:
        return None
    rows = joined[joined["prediction_set"].notna() & joined["value"].notna()]
    floor = nominal - m.max_coverage_drop
    if len(rows) < m.min_labelled_rows:
        return _too_few(
            "interval_coverage", "intervals", floor, len(rows), m.min_labelled_rows, "labelled rows"
        )
    names = np.asarray(cfg.classes or [], dtype=object)
    labels = names[rows["value"].to_numpy(dtype=float).astype(int)]
    value = set_coverage(labels, rows["prediction_set"].tolist())
    return Check(
        "interval_coverage",
        "intervals",
        value,
        floor,
        Verdict.ALERT if value < floor else Verdict.OK,
        f"{value:.1%} of {len(rows):,} labelled answers have their class in their prediction "
        f"set vs {nominal:.0%} nominal (alert below {floor:.0%})",
    )
