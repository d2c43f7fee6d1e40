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

from shared.config import ProjectConfig, RulesConfig
from shared.data.contracts import Contracts, build_contracts
from shared.guard.classes import add_class_columns, add_class_fields
from shared.guard.envelope import Envelope
from shared.guard.plan import Outcome, Plan
from shared.guard.rows import DECISIONS, records_columns

if TYPE_CHECKING:
    from shared.model.conformal import Calibration  # types only
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

    def with_calibration(self, calibration: Calibration | None) -> GuardedModel:
        """The same model and rules answering with ``calibration`` (adaptive intervals:
        shared.model.adaptive moves the quantile between retrainings)."""
        return GuardedModel(
            self.model,
            self.baseline,
            self.cfg,
            self.rules,
            self.envelope,
            self.model_version,
            self.rules_version,
            calibration,
        )

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
        multiclass = done.probabilities is not None
        classes = (
            [None if c is None else (c if multiclass else bool(c)) for c in done.predicted_class]
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
        if multiclass:
            add_class_fields(out, done, list(self.cfg.classes or []))
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
        if done.probabilities is not None:  # multiclass: the class, its set, p_<class> each
            add_class_columns(out, done, list(self.cfg.classes or []))
        elif done.predicted_class is not None:
            out.insert(2, "predicted_class", pd.array(done.predicted_class, dtype="boolean"))
        if done.low is not None and done.high is not None:
            at = out.columns.get_loc("decision")
            out.insert(at, "interval_high", done.high.astype(float))
            out.insert(at, "interval_low", done.low.astype(float))
        return out


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
