"""Intervals in the guard: the interval rule (a Software 1.0 rule over the model's
conformal uncertainty) and each answer's ``[low, high]`` from the bundle's calibration
(:mod:`shared.model.conformal`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from shared.config import InputRule, ProjectConfig

if TYPE_CHECKING:
    from shared.guard.rows import Rows
    from shared.model.conformal import Calibration  # types only


def interval_rules(
    rules: list[InputRule],
    calibration: Calibration | None,
    pred: np.ndarray,
    state: Rows,
    cfg: ProjectConfig,
) -> None:
    """Interval rules, once the model has answered: a model answer whose interval is wider
    than ``max_width`` goes to the baseline (or is rejected); without a calibration the
    rule cannot be evaluated and sends every model answer on."""
    for rule in rules:
        rows = state.is_("model")
        if not rows.any():
            return
        fails = rows.copy()
        if calibration is not None:
            with np.errstate(invalid="ignore"):
                fails[rows] = ~(
                    calibration.width(pred[rows], cfg.training.threshold)
                    <= float(rule.max_width or 0)
                )
        state.fire(fails, rule.name, "rejected" if rule.action == "reject" else "fallback")


def intervals(
    calibration: Calibration | None,
    raw: np.ndarray,
    answer: np.ndarray,
    answered: np.ndarray,
    state: Rows,
    cfg: ProjectConfig,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Each answer's interval: the calibration of whichever model answered (the baseline's
    for fallbacks) around its raw answer, widened to hold the served answer."""
    if calibration is None:
        return None, None
    by_model = state.is_("model") | state.is_("corrected")
    half = calibration.half_width(raw, by_model)
    return calibration.bounds(raw, half, answer, answered, cfg.training.threshold)
