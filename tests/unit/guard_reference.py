"""The guard's reference path: :meth:`GuardedModel.predict` the way it was first written,
over pandas frames. Only a test oracle: the compiled plan (shared.guard.plan) is tested
against it (same decisions, predictions and reasons), so it lives beside the tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared.config import InputRule
from shared.data.rowchecks import check_rows
from shared.guard import GuardedModel
from shared.guard.intervals import interval_rules, intervals
from shared.guard.rows import Rows, stand_in


def predict_frame(g: GuardedModel, rows: pd.DataFrame) -> pd.DataFrame:
    """:meth:`predict` the way it was first written, over pandas frames: the reference
    the compiled plan is tested against (same decisions, predictions and reasons)."""
    raw = pd.DataFrame(rows).reset_index(drop=True)
    n = len(raw)
    cfg = g.cfg
    contracts = g._current_contracts()
    state = Rows(n)
    # 1. the data contract: rows that break it are rejected
    specs = [
        s
        for s in contracts.columns
        if s.name in cfg.features or (s.name == cfg.timestamp_column and s.name in raw)
    ]
    for s in specs:
        if s.name not in raw:
            raw[s.name] = None
    checked = check_rows(raw, contracts, specs, unique=False)
    if len(checked.reasons):
        rr = checked.reasons
        for r, c, k in zip(
            rr["row"].tolist(), rr["column"].tolist(), rr["check"].tolist(), strict=True
        ):
            state.reasons.setdefault(r, []).append(f"schema:{c}:{k}")
        bad = np.zeros(n, dtype=bool)
        bad[rr["row"].to_numpy()] = True
        state.fire(bad, "", "rejected")
    frame = _typed_frame(g, checked.typed, n)
    alive = ~state.is_("rejected")
    # 2. input rules
    for rule in g.plan.input_rules:
        fails = _input_rule(g, rule, frame) & alive
        state.fire(fails, rule.name, "rejected" if rule.action == "reject" else "fallback")
        alive = ~state.is_("rejected")
    # 3. the model answers what is left; the baseline answers fallbacks
    pred = np.full(n, np.nan)
    use_model = state.is_("model")
    if use_model.any():
        try:
            out = np.asarray(g.model.predict(frame[use_model]), dtype=float)
            pred[use_model] = out
        except Exception:  # the model failing is a fallback, never an outage
            state.fire(use_model, "model_error", "fallback")
        broken = use_model & ~np.isfinite(pred)
        state.fire(broken & state.is_("model"), "model_non_finite", "fallback")
        interval_rules(g.plan.interval_rules, g.calibration, pred, state, cfg)
    use_base = state.is_("fallback")
    if use_base.any():
        try:
            pred[use_base] = np.asarray(g.baseline.predict(frame[use_base]), dtype=float)
        except Exception:
            pred[use_base] = np.nan
        failed = use_base & ~np.isfinite(pred)
        state.fire(failed, "fallback_failed", "rejected")
    answered = ~state.is_("rejected")
    pred[~answered] = np.nan
    unruled = pred.copy()  # the raw answers (intervals are built around them)
    # 4. output rules
    pred = _output_rules(g, pred, frame, answered, state)
    ids = (
        raw[cfg.id_column].astype("string").fillna("").to_numpy() if cfg.id_column in raw else None
    )
    row_id = ids if ids is not None else np.arange(n).astype(str)
    out = pd.DataFrame(
        {
            "row_id": pd.Series(row_id, dtype=str),
            "prediction": pred.astype(float),
            "decision": state.decision.astype(str),
            "reasons": state.reason_text(),
            "model_version": g.model_version,
            "rules_version": g.rules_version,
        }
    )
    if cfg.task == "binary":
        decided = np.where(answered, pred >= cfg.training.threshold, None)
        out.insert(2, "predicted_class", pd.array(decided, dtype="boolean"))
    low, high = intervals(g.calibration, unruled, pred, answered, state, cfg)
    if low is not None and high is not None:
        out.insert(out.columns.get_loc("decision"), "interval_low", low)
        out.insert(out.columns.get_loc("decision"), "interval_high", high)
    return out.astype(
        {
            "row_id": str,
            "decision": str,
            "reasons": str,
            "model_version": str,
            "rules_version": str,
        }
    )


def _typed_frame(g: GuardedModel, typed: dict[str, pd.Series], n: int) -> pd.DataFrame:
    """Typed features with harmless stand-ins where a value was unusable (rejected rows)."""
    cols = {name: stand_in(spec.type, typed[name]) for name, spec in g.cfg.features.items()}
    return pd.DataFrame(cols, index=range(n))


def _input_rule(g: GuardedModel, rule: InputRule, frame: pd.DataFrame) -> np.ndarray:
    n = len(frame)
    try:
        if rule.kind == "range":
            x = frame[rule.column].astype(float).to_numpy()
            lo = -np.inf if rule.min is None else rule.min
            hi = np.inf if rule.max is None else rule.max
            return (x < lo) | (x > hi)
        if rule.kind == "allowed":
            return ~frame[rule.column].astype(str).isin(rule.values).to_numpy()
        if rule.kind == "expression":  # a constant (e.g. "True") holds for every row
            ok = np.broadcast_to(np.asarray(frame.eval(rule.expr), dtype=bool), (n,))
            return ~ok
        fails = np.zeros(n, dtype=bool)
        for name, e in g.envelope.numeric.items():
            x = frame[name].astype(float).to_numpy()
            pad = rule.margin * e["iqr"]
            fails |= (x < e["low"] - pad) | (x > e["high"] + pad)
        for name, seen in g.envelope.categories.items():
            fails |= ~frame[name].astype(str).isin(seen).to_numpy()
        return fails
    except Exception:  # a rule that cannot be evaluated sends every row to fallback
        return np.ones(n, dtype=bool)


def _output_rules(
    g: GuardedModel, pred: np.ndarray, frame: pd.DataFrame, answered: np.ndarray, state: Rows
) -> np.ndarray:
    pred = pred.copy()
    binary = g.cfg.task == "binary"
    if binary:  # output rules act on the probability
        clipped = answered & ((pred < 0) | (pred > 1))
        pred[answered] = np.clip(pred[answered], 0.0, 1.0)
        state.fire(clipped, "probability_clipped", "corrected")
    floor = np.full(len(pred), -np.inf)
    cap = np.full(len(pred), np.inf)
    decimals = None
    for rule in g.rules.output:
        if rule.kind == "floor":
            try:  # a constant floor (e.g. "25") holds for every row
                f = np.broadcast_to(
                    np.asarray(frame.eval(rule.expr), dtype=float), pred.shape
                ).copy()
            except Exception:
                f = np.full(len(pred), -np.inf)
            f = np.where(np.isfinite(f), f, -np.inf)
            low = answered & (pred < f)
            pred[low] = f[low]
            floor = np.maximum(floor, f)
            state.fire(low, rule.name, "corrected")
        elif rule.kind == "cap":
            high = answered & (pred > rule.value)
            pred[high] = rule.value
            cap = np.minimum(cap, rule.value)
            state.fire(high, rule.name, "corrected")
        else:
            decimals = rule.decimals
    if decimals is not None:
        scale = 10.0**decimals
        rounded = np.round(pred, decimals)
        # rounding never breaks the floor or the cap
        rounded = np.where(rounded < floor, np.ceil(floor * scale) / scale, rounded)
        rounded = np.where(rounded > cap, np.floor(cap * scale) / scale, rounded)
        pred = np.where(answered, rounded, np.nan)
    if binary:
        pred = np.where(answered, np.clip(pred, 0.0, 1.0), np.nan)
    return pred
