"""The guard compiled once per bundle: a vectorised plan over NumPy arrays.

:class:`Plan` turns the rules, the data contract and the envelope into checks over one
array per column, so a guarded answer costs little beside the model: no pandas frame per
call, rule expressions compiled to NumPy once, the model fed a feature matrix (XGBoost
through ``inplace_predict``), and reason codes built only for rows where a rule fired.

A column whose values all pass a fast check (typed numbers within the contract's bounds,
declared categories, booleans, timestamps not in the future) is used as it is; any other
column goes through :func:`shared.data.rowchecks.check_rows`, the one implementation of
the contract's coercions, so the reasons are the contract's (column, check) exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shared.config import InputRule, OutputRule, ProjectConfig, RulesConfig
from shared.config.expressions import compile_expression
from shared.data.contracts import Contracts
from shared.data.fastcheck import column_array, fast_check
from shared.data.features import feature_matrix, missing
from shared.data.rowchecks import check_rows
from shared.guard.envelope import Envelope
from shared.guard.intervals import interval_rules, intervals
from shared.guard.rows import Rows, stand_in

if TYPE_CHECKING:
    from shared.model.conformal import Calibration  # types only
    from shared.model.families.base import Model


# -- the plan ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    """The plan's answer for n rows, before it is shaped into a frame or records."""

    prediction: np.ndarray
    state: Rows
    answered: np.ndarray
    predicted_class: np.ndarray | None  # binary tasks: True/False, None where rejected
    low: np.ndarray | None = None  # the interval (None: the bundle has no calibration)
    high: np.ndarray | None = None
    # multiclass tasks (shared/guard/classes.py): (n, K) class probabilities, NaN where
    # rejected; each answer's prediction set as text ("a|b"; None: rejected or no calibration)
    probabilities: np.ndarray | None = None
    prediction_set: np.ndarray | None = None


class Plan:
    """The rules, contract and envelope of one guarded model, compiled for arrays."""

    def __init__(
        self,
        cfg: ProjectConfig,
        rules: RulesConfig,
        envelope: Envelope,
        model: Model,
        baseline: Model,
        calibration: Calibration | None = None,
    ) -> None:
        self.cfg, self.rules, self.envelope = cfg, rules, envelope
        self.model, self.baseline, self.calibration = model, baseline, calibration
        # interval and confidence rules act once the model has answered; required rules
        # decide on gaps
        after = ("interval", "confidence", "required")
        self.input_rules = [r for r in rules.input if r.kind not in after]
        self.required_rules = [r for r in rules.input if r.kind == "required"]
        # features whose gaps pass the contract: nullable ones, and those a required rule
        # decides on (its action instead of the contract's rejection)
        self.gaps = frozenset(cfg.nullable_features) | {
            c for r in self.required_rules for c in r.columns or []
        }
        self.interval_rules = [r for r in rules.input if r.kind == "interval"]
        names = set(cfg.features)
        self.expressions = {
            r.name: compile_expression(r.expr, names)
            for r in (*rules.input, *rules.output)
            if getattr(r, "expr", None) is not None
        }
        self.seen = {k: frozenset(v) for k, v in envelope.categories.items()}

    def run(
        self, cols: Mapping[str, np.ndarray | pd.Series], n: int, contracts: Contracts
    ) -> Outcome:
        """Guarded answers for ``cols`` (column name -> Series or array of n values; any
        dtype, missing columns allowed)."""
        cfg = self.cfg
        state = Rows(n)
        typed = self._schema(cols, n, contracts, state)
        alive = ~state.is_("rejected")
        for rule in self.required_rules:  # a gap in a listed feature, named in the reason
            for name in rule.columns or []:
                gap = missing(typed[name]) & alive
                action = "rejected" if rule.action == "reject" else "fallback"
                state.fire(gap, f"{rule.name}:{name}", action)
            alive = ~state.is_("rejected")
        for rule in self.input_rules:
            fails = self._input_rule(rule, typed, n) & alive
            state.fire(fails, rule.name, "rejected" if rule.action == "reject" else "fallback")
            alive = ~state.is_("rejected")
        if cfg.task == "multiclass":  # class probabilities, the class and its set
            from shared.guard.classes import answer_classes

            return answer_classes(self, typed, state, n)
        pred = np.full(n, np.nan)
        use_model = state.is_("model")
        if use_model.any():
            try:
                out = self._predict(self.model, typed, use_model, n)
                pred[use_model] = out
            except Exception:  # the model failing is a fallback, never an outage
                state.fire(use_model, "model_error", "fallback")
            broken = use_model & ~np.isfinite(pred)
            state.fire(broken & state.is_("model"), "model_non_finite", "fallback")
            interval_rules(self.interval_rules, self.calibration, pred, state, cfg)
        use_base = state.is_("fallback")
        if use_base.any():
            try:
                pred[use_base] = self._predict(self.baseline, typed, use_base, n)
            except Exception:
                pred[use_base] = np.nan
            failed = use_base & ~np.isfinite(pred)
            state.fire(failed, "fallback_failed", "rejected")
        answered = ~state.is_("rejected")
        pred[~answered] = np.nan
        raw = pred.copy()
        pred = self._output_rules(pred, typed, answered, state, n)
        decided = None
        if cfg.task == "binary":
            decided = np.where(answered, pred >= cfg.training.threshold, None)
        low, high = intervals(self.calibration, raw, pred, answered, state, cfg)
        return Outcome(pred, state, answered, decided, low, high)

    def _schema(
        self, cols: Mapping[str, Any], n: int, contracts: Contracts, state: Rows
    ) -> dict[str, np.ndarray]:
        """The data contract: typed feature arrays; rows that break it are rejected."""
        cfg = self.cfg
        typed: dict[str, np.ndarray] = {}
        found: list[tuple[int, str, str]] = []
        for spec in contracts.columns:
            if not (
                spec.name in cfg.features
                or (spec.name == cfg.timestamp_column and spec.name in cols)
            ):
                continue
            col = cols.get(spec.name)
            values = fast_check(contracts, spec.name).typed(col, n)
            if values is None:  # some value needs the contract's full coercion
                if isinstance(col, pd.Series):
                    series = col.reset_index(drop=True)
                else:
                    series = pd.Series([None] * n if col is None else column_array(col))
                raw = pd.DataFrame({spec.name: series})
                lenient = spec.name in self.gaps
                checked = check_rows(
                    raw,
                    contracts,
                    [replace(spec, nullable=True) if lenient else spec],
                    unique=False,
                )
                rr = checked.reasons
                found += zip(
                    rr["row"].tolist(), rr["column"].tolist(), rr["check"].tolist(), strict=True
                )
                values = stand_in(spec.type, checked.typed[spec.name], lenient)
            typed[spec.name] = values  # text given as a Series stays one (Arrow)
        if found:
            found.sort()
            for r, c, k in found:
                state.reasons.setdefault(r, []).append(f"schema:{c}:{k}")
            bad = np.zeros(n, dtype=bool)
            bad[[r for r, _, _ in found]] = True
            state.fire(bad, "", "rejected")
        return typed

    def _evaluate(
        self, rule: InputRule | OutputRule, typed: Mapping[str, np.ndarray], n: int
    ) -> Any:
        fn = self.expressions.get(rule.name)
        if fn is not None:
            return fn(typed)
        frame = pd.DataFrame({k: typed[k] for k in self.cfg.features}, index=range(n))
        return frame.eval(rule.expr)

    def _input_rule(self, rule: InputRule, typed: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        try:
            if rule.kind == "range":
                x = np.asarray(typed[rule.column], dtype=float)
                lo = -np.inf if rule.min is None else rule.min
                hi = np.inf if rule.max is None else rule.max
                return (x < lo) | (x > hi)
            if rule.kind == "allowed":  # a gap is not a value: the required rule decides
                values = typed[rule.column]
                outside = ~_isin(values, self.cfg.features[rule.column].type, rule.values)
                return outside & ~missing(values) if rule.column in self.gaps else outside
            if rule.kind == "expression":  # a constant (e.g. "True") holds for every row
                ok = np.broadcast_to(np.asarray(self._evaluate(rule, typed, n), dtype=bool), (n,))
                return ~ok
            fails = np.zeros(n, dtype=bool)
            for name, e in self.envelope.numeric.items():
                x = np.asarray(typed[name], dtype=float)
                pad = rule.margin * e["iqr"]
                fails |= (x < e["low"] - pad) | (x > e["high"] + pad)
            for name, seen in self.seen.items():  # the envelope ignores gaps
                outside = ~_isin(typed[name], self.cfg.features[name].type, seen)
                fails |= outside & ~missing(typed[name]) if name in self.gaps else outside
            return fails
        except Exception:  # a rule that cannot be evaluated sends every row to fallback
            return np.ones(n, dtype=bool)

    def _predict(
        self, model: Model, typed: Mapping[str, np.ndarray], rows: np.ndarray, n: int
    ) -> np.ndarray:
        every = bool(rows.all())
        part = {
            k: (v if every else _rows(v, rows)) for k, v in typed.items() if k in self.cfg.features
        }
        if hasattr(model, "predict_matrix"):
            out = model.predict_matrix(feature_matrix(part, self.cfg))
        else:
            out = model.predict(pd.DataFrame(part, index=range(int(rows.sum()))))
        return np.asarray(out, dtype=float)

    def _output_rules(
        self,
        pred: np.ndarray,
        typed: Mapping[str, np.ndarray],
        answered: np.ndarray,
        state: Rows,
        n: int,
    ) -> np.ndarray:
        binary = self.cfg.task == "binary"
        if binary:  # output rules act on the probability
            clipped = answered & ((pred < 0) | (pred > 1))
            pred[answered] = np.clip(pred[answered], 0.0, 1.0)
            state.fire(clipped, "probability_clipped", "corrected")
        floor: np.ndarray | float = -np.inf
        cap: float = np.inf
        decimals = None
        for rule in self.rules.output:
            if rule.kind == "floor":
                try:  # a constant floor (e.g. "25") holds for every row
                    f = np.broadcast_to(
                        np.asarray(self._evaluate(rule, typed, n), dtype=float), pred.shape
                    ).copy()
                except Exception:
                    f = np.full(n, -np.inf)
                f[~np.isfinite(f)] = -np.inf
                with np.errstate(invalid="ignore"):
                    low = answered & (pred < f)
                pred[low] = f[low]
                floor = np.maximum(floor, f)
                state.fire(low, rule.name, "corrected")
            elif rule.kind == "cap":
                with np.errstate(invalid="ignore"):
                    high = answered & (pred > rule.value)
                pred[high] = rule.value
                cap = min(cap, rule.value)
                state.fire(high, rule.name, "corrected")
            else:
                decimals = rule.decimals
        if decimals is not None:
            scale = 10.0**decimals
            rounded = np.round(pred, decimals)
            # rounding never breaks the floor or the cap
            with np.errstate(invalid="ignore"):
                rounded = np.where(rounded < floor, np.ceil(floor * scale) / scale, rounded)
                rounded = np.where(rounded > cap, np.floor(cap * scale) / scale, rounded)
            pred = np.where(answered, rounded, np.nan)
        if binary:
            pred = np.where(answered, np.clip(pred, 0.0, 1.0), np.nan)
        return pred


def _rows(values: Any, rows: np.ndarray) -> Any:
    """The values at the rows of a mask, renumbered from 0."""
    if isinstance(values, pd.Series):
        return values[rows].reset_index(drop=True)
    return values[rows]


def _isin(values: Any, spec_type: str, allowed: Any) -> np.ndarray:
    """Membership of typed values (as text) in ``allowed``."""
    allowed = allowed if isinstance(allowed, frozenset) else frozenset(allowed)
    if isinstance(values, pd.Series):
        return values.astype(str).isin(allowed).to_numpy(dtype=bool, na_value=False)
    if spec_type not in ("category", "str"):
        values = pd.Series(values).astype(str).to_numpy(dtype=object)
    if len(values) <= 64:
        return np.fromiter((v in allowed for v in values.tolist()), dtype=bool, count=len(values))
    return pd.Series(values, dtype=object).isin(allowed).to_numpy(dtype=bool)
