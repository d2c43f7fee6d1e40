""":class:`GuardedModel` = a model version + rules (config/rules.yaml) + the data contract +
the envelope of the training data. For every row it returns a prediction, a decision
(``model``, ``corrected``, ``fallback``, ``rejected``), the reason codes of the rules that
fired, and the model and rules versions. Vectorised; it never raises on bad rows, and the
output invariants (finite answers within floor and cap, none for rejected rows) always hold.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa_arrow

from shared.config import InputRule, ProjectConfig, RulesConfig
from shared.data.contracts import Contracts, build_contracts
from shared.data.rowchecks import check_rows
from shared.guard.envelope import Envelope
from shared.guard.intervals import interval_rules, intervals
from shared.guard.plan import DECISIONS, Outcome, Plan, records_columns, stand_in
from shared.guard.plan import Rows as _Rows

if TYPE_CHECKING:
    from shared.model.conformal import Calibration  # training imports the guard
    from shared.model.families.base import Model


class GuardedModel:
    """A model version wrapped in the project's rules. See the module docstring."""

    def __init__(
        self,
        model: Model,
        baseline: Model,
        cfg: ProjectConfig,
        rules: RulesConfig,
        envelope: Envelope,
        model_version: str,
        rules_version: str,
        calibration: Calibration | None = None,
    ) -> None:
        self.model = model
        self.baseline = baseline
        self.cfg = cfg
        self.rules = rules
        self.envelope = envelope
        self.model_version = model_version
        self.rules_version = rules_version
        self.calibration = calibration  # None: no intervals (bundles from before them)
        self._contracts: Contracts | None = None
        self._contracts_at = 0.0
        self.plan = Plan(cfg, rules, envelope, model, baseline, calibration)

    # contracts anchor "not in the future" at a time: refresh them once a minute
    def _current_contracts(self) -> Contracts:
        if self._contracts is None or time.monotonic() - self._contracts_at > 60:
            self._contracts = build_contracts(self.cfg)
            self._contracts_at = time.monotonic()
        return self._contracts

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Guarded answers, one per row of ``rows`` (any dtypes, missing columns allowed)."""
        raw = pd.DataFrame(rows)
        if not raw.index.equals(pd.RangeIndex(len(raw))):
            raw = raw.reset_index(drop=True)
        n = len(raw)
        cols = {c: raw[c] for c in self._wanted() if c in raw.columns}
        done = self.plan.run(cols, n, self._current_contracts())
        return self._frame(done, _row_ids(cols.get(self.cfg.id_column), n))

    def predict_records(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Guarded answers for row dicts (the service's path: no pandas frame), as dicts with
        the columns of :class:`GuardedPredictions` (``reasons`` as a list of codes,
        ``predicted_class`` None for regression tasks and rejected rows; ``interval_low`` and
        ``interval_high`` when the bundle is calibrated)."""
        n = len(records)
        cols = records_columns(records, self._wanted())
        done = self.plan.run(cols, n, self._current_contracts())
        ids = _row_ids(cols.get(self.cfg.id_column), n).tolist()
        reasons = done.state.reasons
        decision = done.state.decision.tolist()
        pred = done.prediction.tolist()
        classes = (
            [None if c is None else bool(c) for c in done.predicted_class.tolist()]
            if done.predicted_class is not None
            else [None] * n
        )
        out = []
        for i in range(n):
            out.append(
                {
                    "row_id": ids[i],
                    "prediction": None if pred[i] != pred[i] else pred[i],
                    "predicted_class": classes[i],
                    "decision": decision[i],
                    "reasons": list(reasons.get(i, ())),
                    "model_version": self.model_version,
                    "rules_version": self.rules_version,
                }
            )
        if done.low is not None and done.high is not None:
            for r, lo, hi in zip(out, done.low.tolist(), done.high.tolist(), strict=True):
                r["interval_low"], r["interval_high"] = (None, None) if lo != lo else (lo, hi)
        return out

    def _wanted(self) -> list[str]:
        cfg = self.cfg
        return [cfg.id_column, cfg.timestamp_column, *cfg.features]

    def _frame(self, done: Outcome, row_id: Any) -> pd.DataFrame:
        n = len(row_id)
        fired = done.state.reasons
        # text columns built in Arrow: each distinct text once, then taken per row
        reason_at = np.zeros(n, dtype=np.int64)
        reason_at[list(fired)] = np.arange(1, len(fired) + 1)
        reasons = pa_arrow.array(["", *("; ".join(c) for c in fired.values())])
        one = pa_arrow.array(np.zeros(n, dtype=np.int64))
        out = pd.DataFrame(
            {
                "row_id": pd.array(row_id, dtype=str),
                "prediction": done.prediction.astype(float),
                "decision": _text(pa_arrow.array(DECISIONS), done.state.rank),
                "reasons": _text(reasons, reason_at),
                "model_version": pd.array(
                    pa_arrow.array([self.model_version]).take(one), dtype=str
                ),
                "rules_version": pd.array(
                    pa_arrow.array([self.rules_version]).take(one), dtype=str
                ),
            }
        )
        if done.predicted_class is not None:
            out.insert(2, "predicted_class", pd.array(done.predicted_class, dtype="boolean"))
        if done.low is not None and done.high is not None:
            at = out.columns.get_loc("decision")
            out.insert(at, "interval_high", done.high.astype(float))
            out.insert(at, "interval_low", done.low.astype(float))
        return out

    def predict_frame(self, rows: pd.DataFrame) -> pd.DataFrame:
        """:meth:`predict` the way it was first written, over pandas frames: the reference
        the compiled plan is tested against (same decisions, predictions and reasons)."""
        raw = pd.DataFrame(rows).reset_index(drop=True)
        n = len(raw)
        cfg = self.cfg
        contracts = self._current_contracts()
        state = _Rows(n)
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
        frame = self._typed_frame(checked.typed, n)
        alive = ~state.is_("rejected")
        # 2. input rules
        for rule in self.plan.input_rules:
            fails = self._input_rule(rule, frame) & alive
            state.fire(fails, rule.name, "rejected" if rule.action == "reject" else "fallback")
            alive = ~state.is_("rejected")
        # 3. the model answers what is left; the baseline answers fallbacks
        pred = np.full(n, np.nan)
        use_model = state.is_("model")
        if use_model.any():
            try:
                out = np.asarray(self.model.predict(frame[use_model]), dtype=float)
                pred[use_model] = out
            except Exception:  # the model failing is a fallback, never an outage
                state.fire(use_model, "model_error", "fallback")
            broken = use_model & ~np.isfinite(pred)
            state.fire(broken & state.is_("model"), "model_non_finite", "fallback")
            interval_rules(self.plan.interval_rules, self.calibration, pred, state, cfg)
        use_base = state.is_("fallback")
        if use_base.any():
            try:
                pred[use_base] = np.asarray(self.baseline.predict(frame[use_base]), dtype=float)
            except Exception:
                pred[use_base] = np.nan
            failed = use_base & ~np.isfinite(pred)
            state.fire(failed, "fallback_failed", "rejected")
        answered = ~state.is_("rejected")
        pred[~answered] = np.nan
        unruled = pred.copy()  # the raw answers (intervals are built around them)
        # 4. output rules
        pred = self._output_rules(pred, frame, answered, state)
        ids = (
            raw[cfg.id_column].astype("string").fillna("").to_numpy()
            if cfg.id_column in raw
            else None
        )
        row_id = ids if ids is not None else np.arange(n).astype(str)
        out = pd.DataFrame(
            {
                "row_id": pd.Series(row_id, dtype=str),
                "prediction": pred.astype(float),
                "decision": state.decision.astype(str),
                "reasons": state.reason_text(),
                "model_version": self.model_version,
                "rules_version": self.rules_version,
            }
        )
        if cfg.task == "binary":
            decided = np.where(answered, pred >= cfg.training.threshold, None)
            out.insert(2, "predicted_class", pd.array(decided, dtype="boolean"))
        low, high = intervals(self.calibration, unruled, pred, answered, state, cfg)
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

    def _typed_frame(self, typed: dict[str, pd.Series], n: int) -> pd.DataFrame:
        """Typed features with harmless stand-ins where a value was unusable (rejected rows)."""
        cols = {name: stand_in(spec.type, typed[name]) for name, spec in self.cfg.features.items()}
        return pd.DataFrame(cols, index=range(n))

    def _input_rule(self, rule: InputRule, frame: pd.DataFrame) -> np.ndarray:
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
            for name, e in self.envelope.numeric.items():
                x = frame[name].astype(float).to_numpy()
                pad = rule.margin * e["iqr"]
                fails |= (x < e["low"] - pad) | (x > e["high"] + pad)
            for name, seen in self.envelope.categories.items():
                fails |= ~frame[name].astype(str).isin(seen).to_numpy()
            return fails
        except Exception:  # a rule that cannot be evaluated sends every row to fallback
            return np.ones(n, dtype=bool)

    def _output_rules(
        self, pred: np.ndarray, frame: pd.DataFrame, answered: np.ndarray, state: _Rows
    ) -> np.ndarray:
        pred = pred.copy()
        binary = self.cfg.task == "binary"
        if binary:  # output rules act on the probability
            clipped = answered & ((pred < 0) | (pred > 1))
            pred[answered] = np.clip(pred[answered], 0.0, 1.0)
            state.fire(clipped, "probability_clipped", "corrected")
        floor = np.full(len(pred), -np.inf)
        cap = np.full(len(pred), np.inf)
        decimals = None
        for rule in self.rules.output:
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


def _text(values: pa_arrow.Array, at: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A text column: ``values[at[i]]`` for each row (Arrow's take, no Python loop)."""
    return pd.array(values.take(pa_arrow.array(at)), dtype=str)


def _row_ids(ids: Any, n: int) -> Any:
    """Each row's id as text ("" where missing), or its position where there is no id column."""
    if ids is None:
        return np.arange(n).astype(str)
    if not isinstance(ids, pd.Series):
        if all(type(v) is str for v in ids.tolist()):
            return np.asarray(ids, dtype=object)
        ids = pd.Series(ids, dtype=object)
    elif pd.api.types.is_string_dtype(ids.dtype) and not ids.hasnans and ids.dtype.kind != "O":
        return ids.array  # already text: no copy
    return ids.astype("string").fillna("").to_numpy(dtype=object)
