"""Drift statistics and break-even arithmetic against hand-computed cases."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shared.config import CostsConfig
from shared.ledger import Ledger, ModelRegistration
from shared.model.drift import (
    CategoricalRef,
    NumericRef,
    categorical_psi,
    chi_square,
    ks_against_quantiles,
    numeric_psi,
    numeric_ref,
    psi,
)
from shared.monitor.costs import economics, monthly_benefit


def test_psi_by_hand() -> None:
    e, a = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert psi(e, a) == pytest.approx(expected)
    assert psi(e, e) == 0.0


def test_numeric_psi_uses_the_bins_fixed_at_training() -> None:
    ref = NumericRef(edges=[1.0], shares=[0.5, 0.5], quantiles=[0.0, 2.0], n=100)
    # three of four values above the edge: shares 0.25 / 0.75
    assert numeric_psi(ref, np.array([0.5, 1.5, 1.7, 3.0])) == pytest.approx(
        psi(np.array([0.5, 0.5]), np.array([0.25, 0.75]))
    )


def test_categorical_psi_and_unseen_category() -> None:
    ref = CategoricalRef({"a": 0.5, "b": 0.5}, 100)
    same = categorical_psi(ref, pd.Series(["a", "b"] * 50))
    assert same == pytest.approx(0.0, abs=1e-9)
    assert categorical_psi(ref, pd.Series(["a", "c", "c", "c"])) > 1.0


def test_ks_from_stored_quantiles_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    train = rng.normal(0, 1, 20000)
    cur = rng.normal(0.3, 1, 3000)
    ref = numeric_ref(train)
    d, p = ks_against_quantiles(ref, cur)
    exact = stats.ks_2samp(train, cur)
    assert d == pytest.approx(exact.statistic, abs=0.01)
    assert p < 1e-10 and exact.pvalue < 1e-10


def test_no_drift_on_a_reference_sample_drift_on_a_shifted_one() -> None:
    rng = np.random.default_rng(1)
    ref = numeric_ref(rng.lognormal(1, 0.5, 20000))
    same = rng.lognormal(1, 0.5, 5000)
    shifted = rng.lognormal(1.4, 0.5, 5000)
    assert numeric_psi(ref, same) < 0.02 and ks_against_quantiles(ref, same)[1] > 0.001
    assert numeric_psi(ref, shifted) > 0.2 and ks_against_quantiles(ref, shifted)[1] < 1e-6
    cat = CategoricalRef({"a": 0.7, "b": 0.3}, 10000)
    assert chi_square(cat, pd.Series(rng.choice(["a", "b"], 3000, p=[0.7, 0.3])))[1] > 0.001
    assert chi_square(cat, pd.Series(rng.choice(["a", "b"], 3000, p=[0.4, 0.6])))[1] < 1e-6


def _reg(family: str, status: str, mae: float, base_mae: float) -> ModelRegistration:
    return ModelRegistration(
        family, status, "mae", {"mae": mae}, {}, [], {"mae": base_mae}, "", {"device": "cpu"}
    )


def _served_ledger(tmp_path) -> tuple[Ledger, datetime]:
    """Three training runs of one hour each; v1 promoted, then v2 a month later; v3 (the
    best on paper) only attached as production's shadow. Returns the ledger and 'now':
    half a month after v2 went to production."""
    from sqlalchemy import update

    from shared.ledger import AliasAction, NewDeployment
    from shared.ledger.releases import shadow_alias
    from shared.ledger.tables import AliasMove, FlowRun

    ledger = Ledger.open(f"sqlite:///{tmp_path / 'l.db'}", create=True)
    for i, mae in enumerate([3.0, 2.0, 1.0]):
        run = f"TrainFlow/{i}"
        ledger.runs.start("TrainFlow", str(i), "mina")
        ledger.registry.register(
            run, run, [_reg("xgboost", "candidate", mae, 3.5)], [], "mina", None, None, "h"
        )
        ledger.runs.finish(run, "succeeded")
    month = timedelta(days=365.25 / 12)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    promoted = {"v1": t0 + timedelta(hours=1), "v2": t0 + timedelta(hours=1) + month}
    started = [t0, promoted["v1"] + timedelta(days=1), promoted["v2"] + timedelta(days=1)]
    dep = NewDeployment("h", "r1", None, "bundle", "sora")
    for v in ("v1", "v2"):
        ledger.releases.move_alias("production", v, "sora", "go", AliasAction.PROMOTE, dep)
    ledger.releases.move_alias(
        shadow_alias("production"), "v3", "sora", "try", AliasAction.SHADOW, dep
    )
    with ledger.engine.begin() as c:
        for i, at in enumerate(started):
            c.execute(
                update(FlowRun)
                .where(FlowRun.pathspec == f"TrainFlow/{i}")
                .values(started_at=at, ended_at=at + timedelta(hours=1))
            )
        for v, at in promoted.items():
            c.execute(update(AliasMove).where(AliasMove.model_id == int(v[1:])).values(at=at))
        c.execute(update(AliasMove).where(AliasMove.model_id == 3).values(at=started[2]))
    return ledger, promoted["v2"] + month / 2


def test_break_even_by_hand_counts_benefit_only_for_versions_that_served(tmp_path) -> None:
    ledger, now = _served_ledger(tmp_path)
    costs = CostsConfig.model_validate(
        {
            "fixed_monthly": {"team": 1000.0, "platform": 200.0},
            "prices_per_hour": {"cpu": 2.0, "gpu": 10.0},
            "benefit": {"value_per_unit_improvement": 0.01, "predictions_per_month": 100000},
            "months_per_model": 1,
        }
    )
    econ = economics(ledger, costs, now=now)
    # v1 saves 0.5 min x 0.01 x 100k = 500/month; v2 1.5 -> 1500; v3 2.5 -> 2500 on paper
    assert [round(m.monthly_benefit) for m in econ.per_model] == [500, 1500, 2500]
    assert [m.production for m in econ.per_model] == ["served", "served", "shadow only"]
    assert [m.benefit for m in econ.per_model] == [500.0, 1500.0, 0.0]  # v3 never served
    assert [m.variable_cost for m in econ.per_model] == [2.0, 2.0, 2.0]
    chart = econ.chart
    assert list(chart["models_built"]) == [0, 1, 2]  # models built that served
    assert list(chart["fixed"]) == [0.0, 1200.0, 2400.0]
    # row 1: the runs before v2 served (v2's own training ran while v1 served); row 2: all
    assert list(chart["variable"]) == [0.0, 4.0, 6.0]
    assert list(chart["benefit"]) == [0.0, 500.0, 2000.0]
    assert econ.break_even_at is None  # 2000 < 2406
    assert econ.benefit == 2000.0 and econ.variable == 6.0 and econ.fixed == 2400.0
    assert econ.net == pytest.approx(2000 - 2400 - 6)
    costs2 = costs.model_copy(
        update={"benefit": costs.benefit.model_copy(update={"predictions_per_month": 200000})}
    )
    econ2 = economics(ledger, costs2, now=now)
    assert list(econ2.chart["benefit"]) == [0.0, 1000.0, 4000.0]
    assert econ2.break_even_at == 2  # 4000 >= 2406, while 1000 < 1204
    assert monthly_benefit(ledger.registry.model("v1"), costs2) == pytest.approx(1000.0)


def test_benefit_for_the_actual_time_in_production_where_the_project_asks(tmp_path) -> None:
    ledger, now = _served_ledger(tmp_path)
    costs = CostsConfig.model_validate(
        {
            "fixed_monthly": {"team": 1200.0},
            "benefit": {"value_per_unit_improvement": 0.01, "predictions_per_month": 100000},
            "benefit_period": "time_in_production",
        }
    )
    econ = economics(ledger, costs, now=now)
    # v1 served one month (until v2), v2 half a month so far, v3 never
    assert [round(m.months_in_production, 6) for m in econ.per_model] == [1.0, 0.5, 0.0]
    assert [round(m.benefit, 6) for m in econ.per_model] == [500.0, 750.0, 0.0]
    assert [round(x, 6) for x in econ.chart["fixed"]] == [0.0, 1200.0, 1800.0]


def test_money_has_the_currency_and_thousands_separators() -> None:
    from shared.monitor.costs import money

    assert money(426205.4, "USD") == "426,205 USD"
    assert money(1234.567, "EUR", 2) == "1,234.57 EUR"
    assert money(-0.2, "USD") == "0 USD"
    assert money(-31500, "USD") == "-31,500 USD"


def test_time_in_production_reads_as_people_say_it() -> None:
    from shared.monitor.costs import DAYS_PER_MONTH, served_for

    assert served_for(12 / 1440 / DAYS_PER_MONTH) == "12 min"
    assert served_for(5 / 24 / DAYS_PER_MONTH) == "5.0 h"
    assert served_for(15 / DAYS_PER_MONTH) == "15.0 days"
    assert served_for(2.0) == "2.00 months"


def _bin(precision: float, recall: float, base_p: float, base_r: float) -> ModelRegistration:
    return ModelRegistration(
        "xgboost",
        "candidate",
        "roc_auc",
        {"roc_auc": 0.8, "precision": precision, "recall": recall},
        {},
        [],
        {"roc_auc": 0.6, "precision": base_p, "recall": base_r},
        "",
        {"device": "cpu"},
    )


def test_binary_benefit_uses_prevalence_by_hand(tmp_path) -> None:
    """Issue 10, problem 6: the binary formula left out prevalence."""
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'l.db'}", create=True)
    ledger.runs.start("TrainFlow", "1", "mina")
    ledger.registry.register(
        "TrainFlow/1", "TrainFlow/1", [_bin(0.5, 0.8, 0.25, 0.4)], [], "mina", None, None, "h"
    )
    costs = CostsConfig.model_validate(
        {
            "benefit": {
                "predictions_per_month": 1000,
                "value_per_true_positive": 10.0,
                "cost_per_false_positive": 2.0,
                "prevalence": 0.1,
            }
        }
    )
    # model: TP 0.1*0.8 = 0.08, FP 0.08*(1-0.5)/0.5 = 0.08 -> 0.8 - 0.16 = 0.64 per prediction
    # baseline: TP 0.04, FP 0.04*0.75/0.25 = 0.12 -> 0.4 - 0.24 = 0.16; gain 0.48 x 1000
    [m] = ledger.registry.models()
    assert monthly_benefit(m, costs) == pytest.approx(480.0)


@pytest.mark.parametrize(
    ("task", "benefit", "message"),
    [
        ("regression", {"value_per_true_positive": 1.0}, "is for binary tasks"),
        ("binary", {"value_per_unit_improvement": 1.0}, "is for regression"),
        ("binary", {"value_per_true_positive": 1.0}, "'benefit.prevalence': needed"),
    ],
)
def test_costs_that_do_not_fit_the_task_name_the_file_and_field(
    tmp_path, task: str, benefit: dict, message: str
) -> None:
    import yaml

    from shared.config import ConfigError, load_project_set
    from tests.conftest import REPO, write_project

    data = yaml.safe_load((REPO / "config" / "project.yaml").read_text())
    if task == "binary":
        data.update(
            task="binary",
            target="late",
            baseline={"rule": "base_rate", "params": {}},
            training={**data["training"], "key_metric": "roc_auc"},
            target_range={},
        )
    (tmp_path / "costs.yaml").write_text(yaml.safe_dump({"benefit": benefit}))
    project = write_project(tmp_path, base=data)
    with pytest.raises(ConfigError) as e:
        load_project_set(project)
    assert str(e.value).startswith(
        f"{tmp_path / 'costs.yaml'}: field 'benefit."
    ) and message in str(e.value)
