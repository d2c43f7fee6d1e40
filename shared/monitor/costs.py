"""Costs and break-even: does Software 2.0 pay for itself? (SEED_NOTES.md, "Break-even")

Fixed cost: the team and always-on infrastructure, per month (config/costs.yaml).
Variable cost: instance-hours of every recorded flow run, priced by resource class (a run
that trained on a GPU is priced as GPU time). Benefit of a model version over the
baseline, per month, for the months it serves (the project folder's costs file):

- regression: (baseline's key metric - model's key metric) x value_per_unit_improvement x
  predictions_per_month (e.g. minutes of MAE saved per order x value of a minute x orders);
- binary: per prediction, true positives = prevalence x recall and false positives =
  prevalence x recall x (1 - precision) / precision at the configured threshold; value =
  true positives x value_per_true_positive - false positives x cost_per_false_positive;
  (model's value - baseline's value) x predictions_per_month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from shared.config import REGRESSION_METRICS, CostsConfig
from shared.ledger import Ledger, ModelStatus, ModelVersionRecord


class BreakEvenRow(pa.DataFrameModel):
    """Cumulative fixed, variable cost and benefit after the k-th model built."""

    models_built: Series[int] = pa.Field(ge=1)
    version: Series[str]
    fixed: Series[float] = pa.Field(ge=0)
    variable: Series[float] = pa.Field(ge=0)
    benefit: Series[float]
    total_cost: Series[float] = pa.Field(ge=0)


@dataclass(frozen=True)
class ModelEconomics:
    version: str
    family: str
    status: str
    variable_cost: float
    monthly_benefit: float
    months: float

    @property
    def benefit(self) -> float:
        return self.monthly_benefit * self.months


@dataclass(frozen=True)
class ProjectEconomics:
    currency: str
    fixed: float
    variable: float
    benefit: float
    break_even_at: int | None  # models built when cumulative benefit first covers the costs
    per_model: list[ModelEconomics]
    chart: pd.DataFrame  # BreakEvenRow

    @property
    def net(self) -> float:
        return self.benefit - self.fixed - self.variable


def _hours(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None:
        return 0.0
    return max((end - start).total_seconds(), 0.0) / 3600.0


def run_costs(ledger: Ledger, costs: CostsConfig) -> dict[str, float]:
    """Variable cost of each recorded flow run (pathspec -> money)."""
    gpu_runs = {m.flow_run for m in ledger.registry.models() if m.resources.get("device") == "cuda"}
    out = {}
    for r in ledger.runs.all():
        price = costs.prices_per_hour["gpu" if r.pathspec in gpu_runs else "cpu"]
        out[r.pathspec] = _hours(r.started_at, r.ended_at) * price
    return out


def binary_value(metrics: dict[str, float], costs: CostsConfig) -> float:
    """Value of one prediction of a binary model from its precision and recall."""
    b = costs.benefit
    prevalence = b.prevalence or 0.0
    recall, precision = metrics.get("recall", 0.0), metrics.get("precision", 0.0)
    tp = prevalence * recall
    fp = tp * (1 - precision) / precision if precision > 0 else 0.0
    return tp * b.value_per_true_positive - fp * b.cost_per_false_positive


def monthly_benefit(m: ModelVersionRecord, costs: CostsConfig) -> float:
    """Value per month of a model over the baseline (negative when worse)."""
    b = costs.benefit
    km = m.key_metric
    if km in REGRESSION_METRICS:  # lower is better
        improvement = m.baseline_metrics.get(km, 0.0) - m.metrics.get(km, 0.0)
        return improvement * b.value_per_unit_improvement * b.predictions_per_month
    gain = binary_value(m.metrics, costs) - binary_value(m.baseline_metrics, costs)
    return gain * b.predictions_per_month


def economics(ledger: Ledger, costs: CostsConfig) -> ProjectEconomics:
    """Per model version and for the project: fixed, variable, benefit, break-even."""
    per_run = run_costs(ledger, costs)
    fixed_month = sum(costs.fixed_monthly.values())
    models = sorted(
        [
            m
            for m in ledger.registry.models()
            if m.status in (ModelStatus.CANDIDATE, ModelStatus.PASSED, ModelStatus.REJECTED)
        ],
        key=lambda m: m.id,
    )
    # one model is "built" per training run: the run's candidate, or its best family
    built: dict[str, ModelVersionRecord] = {}
    for m in models:
        if m.flow_run not in built or m.status == ModelStatus.CANDIDATE:
            built[m.flow_run] = m
    per_model, rows = [], []
    fixed = variable = benefit = 0.0
    break_even = None
    for k, m in enumerate(sorted(built.values(), key=lambda m: m.id), start=1):
        months = costs.months_per_model if m.status == ModelStatus.CANDIDATE else 0.0
        econ = ModelEconomics(
            m.version,
            m.family,
            m.status,
            per_run.get(m.flow_run, 0.0),
            monthly_benefit(m, costs),
            months,
        )
        per_model.append(econ)
        fixed += fixed_month * costs.months_per_model
        variable += econ.variable_cost
        benefit += econ.benefit
        rows.append(
            {
                "models_built": k,
                "version": m.version,
                "fixed": fixed,
                "variable": variable,
                "benefit": benefit,
                "total_cost": fixed + variable,
            }
        )
        if break_even is None and benefit >= fixed + variable and benefit > 0:
            break_even = k
    # ingest, score and monitor runs are variable costs too, not tied to one model
    other = sum(v for p, v in per_run.items() if not p.startswith("TrainFlow/"))
    chart = pd.DataFrame(rows, columns=list(BreakEvenRow.to_schema().columns))
    if len(chart):
        chart["variable"] = chart["variable"] + other
        chart["total_cost"] = chart["fixed"] + chart["variable"]
        chart = BreakEvenRow.validate(
            chart.astype(
                {
                    "models_built": int,
                    "version": str,
                    "fixed": float,
                    "variable": float,
                    "benefit": float,
                    "total_cost": float,
                }
            )
        )
        hit = chart.index[chart["benefit"] >= chart["total_cost"]]
        break_even = (
            int(chart.loc[hit[0], "models_built"])
            if len(hit) and chart["benefit"].max() > 0
            else None
        )
    return ProjectEconomics(
        costs.currency, fixed, variable + other, benefit, break_even, per_model, chart
    )
