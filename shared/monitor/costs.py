"""Costs and break-even: does Software 2.0 pay for itself? (SEED_NOTES.md, "Break-even")

Fixed cost: the team and always-on infrastructure, per month (config/costs.yaml).
Variable cost: instance-hours of every recorded flow run, priced by resource class (a run
that trained on a GPU is priced as GPU time). Benefit of a model version over the
baseline, per month, counted only for versions that served production (the alias
history): ``months_per_model`` each, or their actual time in production where the costs
file asks for it (``benefit_period: time_in_production``). A candidate or a shadow that
never served costs its runs and brings no benefit.

- regression: (baseline's key metric - model's key metric) x value_per_unit_improvement x
  predictions_per_month (e.g. minutes of MAE saved per order x value of a minute x orders);
- multiclass: per prediction, the sum over classes of share x (recall x value_if_right -
  (1 - recall) x cost_if_wrong) from costs.yaml's per-class table (benefit.classes);
  (model's value - baseline's value) x predictions_per_month;
- binary: per prediction, true positives = prevalence x recall and false positives =
  prevalence x recall x (1 - precision) / precision at the configured threshold; value =
  true positives x value_per_true_positive - false positives x cost_per_false_positive;
  (model's value - baseline's value) x predictions_per_month.

The break-even chart's x axis is the number of models built that served: after the k-th,
the cumulative fixed cost (the months the served models covered), the variable cost of
every run up to the next promotion, and the cumulative benefit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from shared.config import REGRESSION_METRICS, BenefitPeriod, CostsConfig
from shared.ledger import AliasAction, Ledger, ModelStatus, ModelVersionRecord
from shared.ledger.releases import shadow_alias

DAYS_PER_MONTH = 365.25 / 12


class BreakEvenRow(pa.DataFrameModel):
    """Cumulative fixed, variable cost and benefit after the k-th model that served
    (k = 0: the start, nothing spent)."""

    models_built: Series[int] = pa.Field(ge=0)
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
    production: str  # "served", "shadow only" or "never served"
    months_in_production: float  # its actual time in production (alias history)
    variable_cost: float
    monthly_benefit: float
    months: float  # months whose benefit counts: 0 when it never served
    # tuned (training.search): the seconds its study's tasks ran, and their cost at the
    # instance price (within its run's variable cost, which counts the run's wall time)
    search_seconds: float = 0.0
    search_cost: float = 0.0

    @property
    def served(self) -> bool:
        return self.production == "served"

    @property
    def benefit(self) -> float:
        return self.monthly_benefit * self.months


@dataclass(frozen=True)
class ProjectEconomics:
    currency: str
    configured: bool  # False: the project gave no costs (nothing below means anything)
    fixed: float
    variable: float
    benefit: float
    break_even_at: int | None  # models that served when cumulative benefit covers the costs
    per_model: list[ModelEconomics]
    chart: pd.DataFrame  # BreakEvenRow
    benefit_period: str

    @property
    def net(self) -> float:
        return self.benefit - self.fixed - self.variable

    @property
    def served(self) -> int:
        return sum(m.served for m in self.per_model)


def money(amount: float, currency: str, decimals: int = 0) -> str:
    """``31,500 USD``: thousands separators and the currency, as every page and CLI shows it."""
    text = f"{amount:,.{decimals}f}"
    if text.lstrip("-").strip("0.,") == "":  # no "-0 USD"
        text = text.lstrip("-")
    return f"{text} {currency}"


def served_for(months: float) -> str:
    """A time in production as people say it: ``12 min``, ``5.0 h``, ``15.0 days``, ``2.00 months``."""
    days = months * DAYS_PER_MONTH
    if days < 1 / 24:
        return f"{days * 1440:.0f} min"
    if days < 1:
        return f"{days * 24:.1f} h"
    return f"{days:.1f} days" if months < 1 else f"{months:.2f} months"


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _hours(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None:
        return 0.0
    return max((end - start).total_seconds(), 0.0) / 3600.0


def production_time(
    ledger: Ledger, alias: str = "production", now: datetime | None = None
) -> tuple[dict[str, float], dict[str, datetime]]:
    """From the alias history: months each version served ``alias`` (until the next move,
    or ``now`` for the one there now) and when each first served."""
    now = _utc(now or datetime.now(UTC))
    moves = [m for m in ledger.releases.history(alias) if m.alias == alias]
    months: dict[str, float] = {}
    first: dict[str, datetime] = {}
    for i, m in enumerate(moves):
        start = _utc(m.at)
        end = _utc(moves[i + 1].at) if i + 1 < len(moves) else now
        days = max((end - start).total_seconds(), 0.0) / 86400.0
        months[m.version] = months.get(m.version, 0.0) + days / DAYS_PER_MONTH
        first.setdefault(m.version, start)
    return months, first


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


def class_value(metrics: dict[str, float], costs: CostsConfig) -> float:
    """Value of one prediction of a multiclass model from each class's recall: the sum over
    classes of share x (recall x value_if_right - (1 - recall) x cost_if_wrong)."""
    total = 0.0
    for name, c in costs.benefit.classes.items():
        recall = metrics.get(f"recall_{name}", 0.0)
        total += c.share * (recall * c.value_if_right - (1 - recall) * c.cost_if_wrong)
    return total


def monthly_benefit(m: ModelVersionRecord, costs: CostsConfig) -> float:
    """Value per month of a model over the baseline (negative when worse)."""
    b = costs.benefit
    km = m.key_metric
    if b.classes:  # multiclass: the per-class table
        gain = class_value(m.metrics, costs) - class_value(m.baseline_metrics, costs)
        return gain * b.predictions_per_month
    if km in REGRESSION_METRICS:  # lower is better
        improvement = m.baseline_metrics.get(km, 0.0) - m.metrics.get(km, 0.0)
        return improvement * b.value_per_unit_improvement * b.predictions_per_month
    gain = binary_value(m.metrics, costs) - binary_value(m.baseline_metrics, costs)
    return gain * b.predictions_per_month


def _built(ledger: Ledger, served: set[str]) -> list[ModelVersionRecord]:
    """One model built per training run: the one that served, else the run's candidate,
    else its best family (the first registered)."""
    rank = {ModelStatus.CANDIDATE: 1, ModelStatus.PASSED: 2, ModelStatus.REJECTED: 2}
    built: dict[str, ModelVersionRecord] = {}
    for m in sorted(ledger.registry.models(), key=lambda m: m.id):
        if m.status not in rank and m.version not in served:
            continue
        r = 0 if m.version in served else rank[m.status]
        old = built.get(m.flow_run)
        if old is None or r < (0 if old.version in served else rank.get(old.status, 3)):
            built[m.flow_run] = m
    return sorted(built.values(), key=lambda m: m.id)


def _search_compute(m: ModelVersionRecord, costs: CostsConfig) -> tuple[float, float]:
    """A tuned version's search: its tasks' seconds and their cost (0, 0 when untuned)."""
    seconds = float((m.resources.get("search") or {}).get("task_seconds", 0.0))
    price = costs.prices_per_hour["gpu" if m.resources.get("device") == "cuda" else "cpu"]
    return seconds, seconds / 3600.0 * price


def economics(ledger: Ledger, costs: CostsConfig, now: datetime | None = None) -> ProjectEconomics:
    """Per model version and for the project: fixed, variable, benefit, break-even."""
    per_run = run_costs(ledger, costs)
    fixed_month = sum(costs.fixed_monthly.values())
    in_prod, first_served = production_time(ledger, now=now)
    shadows = {
        m.version
        for m in ledger.releases.history(shadow_alias("production"))
        if m.action == AliasAction.SHADOW
    }
    per_model = []
    for m in _built(ledger, set(in_prod)):
        if m.version in in_prod:
            production = "served"
            months = (
                in_prod[m.version]
                if costs.benefit_period == BenefitPeriod.TIME_IN_PRODUCTION
                else costs.months_per_model
            )
        else:
            production = "shadow only" if m.version in shadows else "never served"
            months = 0.0
        per_model.append(
            ModelEconomics(
                m.version,
                m.family,
                str(m.status),
                production,
                in_prod.get(m.version, 0.0),
                per_run.get(m.flow_run, 0.0),
                monthly_benefit(m, costs),
                months,
                *_search_compute(m, costs),
            )
        )
    chart = _break_even_chart(ledger, per_model, per_run, first_served, fixed_month)
    hit = chart[(chart["models_built"] > 0) & (chart["benefit"] >= chart["total_cost"])]
    hit = hit[hit["benefit"] > 0]
    return ProjectEconomics(
        costs.currency,
        costs.configured,
        float(chart["fixed"].iloc[-1]) if len(chart) else 0.0,
        sum(per_run.values()),
        sum(m.benefit for m in per_model),
        int(hit["models_built"].iloc[0]) if len(hit) else None,
        per_model,
        chart,
        str(costs.benefit_period),
    )


def _break_even_chart(
    ledger: Ledger,
    per_model: list[ModelEconomics],
    per_run: dict[str, float],
    first_served: dict[str, datetime],
    fixed_month: float,
) -> pd.DataFrame:
    """Row k: after the k-th model that served (in the order they first served), the
    months they covered at the fixed cost, every run started before the next one served
    (the last row: every run), and their benefit; row 0 is the start."""
    served = sorted((m for m in per_model if m.served), key=lambda m: first_served[m.version])
    cols = list(BreakEvenRow.to_schema().columns)
    if not served:
        return pd.DataFrame(columns=cols)
    started = {r.pathspec: _utc(r.started_at) for r in ledger.runs.all() if r.started_at}
    rows = [{"models_built": 0, "version": "start", "fixed": 0.0, "variable": 0.0}]
    rows[0] |= {"benefit": 0.0, "total_cost": 0.0}
    fixed = benefit = 0.0
    for k, m in enumerate(served, start=1):
        fixed += fixed_month * m.months
        benefit += m.benefit
        until = first_served[served[k].version] if k < len(served) else None
        variable = sum(
            cost for p, cost in per_run.items() if until is None or started.get(p, until) < until
        )
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
    frame = pd.DataFrame(rows, columns=cols).astype(
        {"models_built": int, "version": str, **dict.fromkeys(cols[2:], float)}
    )
    return BreakEvenRow.validate(frame)
