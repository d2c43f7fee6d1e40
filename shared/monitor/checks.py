"""One function per monitoring check: data drift of a feature, prediction drift,
performance on arrived labels and the guard's rate, each against its threshold."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

from shared.config import HIGHER_IS_BETTER, MonitoringSettings, ProjectConfig
from shared.ledger import ModelVersionRecord
from shared.model.conformal import empirical_coverage
from shared.model.drift import (
    ReferenceProfile,
    categorical_psi,
    chi_square,
    missing_share_drift,
    numeric_drift,
    numeric_psi,
)
from shared.model.metrics import evaluate


class Verdict(StrEnum):
    """A check's verdict. Only ``alert`` can start a retrain."""

    OK = "ok"
    ALERT = "alert"
    SKIPPED = "skipped"  # performance: too few labels arrived (coverage)
    NOT_ENOUGH_ROWS = "not enough rows"  # under the check's minimum sample size


@dataclass(frozen=True)
class Check:
    name: str  # e.g. "drift:distance_km"
    kind: str  # data_drift | prediction_drift | performance | guard | intervals
    value: float | None
    threshold: float
    verdict: str  # a Verdict
    detail: str


def _too_few(name: str, kind: str, threshold: float, rows: int, needed: int, what: str) -> Check:
    """The verdict of a statistical check under its minimum sample size: never an alert."""
    return Check(
        name,
        kind,
        None,
        threshold,
        Verdict.NOT_ENOUGH_ROWS,
        f"not enough rows: {rows:,} {what}, needs at least {needed:,} (monitoring settings)",
    )


def check_data_drift(
    name: str, ref: ReferenceProfile, x: pd.DataFrame, m: MonitoringSettings
) -> Check | None:
    """Feature ``name`` against its training distribution (PSI and KS or chi-square);
    None when the reference has no profile of it."""
    if name not in ref.numeric and name not in ref.categorical:
        return None
    if name in ref.missing:  # a nullable feature: its distribution where it has a value
        x = x[[name]][x[name].notna()]
    usable = int(x[name].notna().sum())
    if usable < m.min_rows_drift:
        return _too_few(
            f"drift:{name}", "data_drift", m.psi_alert, usable, m.min_rows_drift, "rows"
        )
    if name in ref.numeric:
        value, _, p = numeric_drift(ref.numeric[name], x[name].to_numpy(dtype=float))
        test = "KS"
    else:
        value = categorical_psi(ref.categorical[name], x[name])
        _, p = chi_square(ref.categorical[name], x[name])
        test = "chi-square"
    alert = value > m.psi_alert or p < m.ks_pvalue
    return Check(
        f"drift:{name}",
        "data_drift",
        value,
        m.psi_alert,
        Verdict.ALERT if alert else Verdict.OK,
        f"PSI {value:.3f} (alert > {m.psi_alert}), {test} p={p:.2g} (alert < {m.ks_pvalue})",
    )


def check_missing_share(
    name: str, ref: ReferenceProfile, x: pd.DataFrame, m: MonitoringSettings
) -> Check | None:
    """A nullable feature's share of rows missing it against training's (PSI over missing /
    present and a chi-square test, the data-drift thresholds); None for other features."""
    if name not in ref.missing:
        return None
    rows = len(x)
    if rows < m.min_rows_drift:
        return _too_few(
            f"missing:{name}", "data_drift", m.psi_alert, rows, m.min_rows_drift, "rows"
        )
    was = ref.missing[name].share
    share, value, p = missing_share_drift(ref.missing[name], x[name].isna().to_numpy(dtype=bool))
    alert = value > m.psi_alert or p < m.ks_pvalue
    return Check(
        f"missing:{name}",
        "data_drift",
        value,
        m.psi_alert,
        Verdict.ALERT if alert else Verdict.OK,
        f"missing in {share:.1%} of rows (training {was:.1%}): PSI {value:.3f} (alert > "
        f"{m.psi_alert}), chi-square p={p:.2g} (alert < {m.ks_pvalue})",
    )


def check_prediction_drift(
    ref: ReferenceProfile, answered: pd.DataFrame, m: MonitoringSettings
) -> Check | None:
    """The answered rows' predictions against the holdout's; None without a reference."""
    if ref.prediction is None:
        return None
    if len(answered) < m.min_rows_prediction:
        return _too_few(
            "prediction_drift",
            "prediction_drift",
            m.prediction_psi_alert,
            len(answered),
            m.min_rows_prediction,
            "answered rows",
        )
    value = numeric_psi(ref.prediction, answered["prediction"].to_numpy(dtype=float))
    return Check(
        "prediction_drift",
        "prediction_drift",
        value,
        m.prediction_psi_alert,
        Verdict.ALERT if value > m.prediction_psi_alert else Verdict.OK,
        f"PSI of predictions vs the holdout's {value:.3f} (alert > {m.prediction_psi_alert})",
    )


def labelled(answered: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The answered rows whose labels arrived, with the label as ``value``: a label counts
    for the scored row of the batch it was delivered for, once."""
    labels = labels.drop_duplicates(["scoring_batch_id", "row_id"], keep="first")
    return answered.merge(
        labels[["scoring_batch_id", "row_id", "value"]],
        on=["scoring_batch_id", "row_id"],
        how="inner",
    )


def check_interval_coverage(
    joined: pd.DataFrame, nominal: float | None, m: MonitoringSettings
) -> Check | None:
    """Empirical coverage of the answers' intervals on the labelled rows (``joined``, see
    :func:`labelled`) against the nominal coverage they were calibrated for; None when the
    model has no intervals. Alert below nominal by more than ``max_coverage_drop``."""
    if nominal is None or "interval_low" not in joined:
        return None
    rows = joined[joined["interval_low"].notna() & joined["interval_high"].notna()]
    floor = nominal - m.max_coverage_drop
    if len(rows) < m.min_labelled_rows:
        return _too_few(
            "interval_coverage", "intervals", floor, len(rows), m.min_labelled_rows, "labelled rows"
        )
    value = empirical_coverage(
        rows["value"].to_numpy(float),
        rows["interval_low"].to_numpy(float),
        rows["interval_high"].to_numpy(float),
    )
    return Check(
        "interval_coverage",
        "intervals",
        value,
        floor,
        Verdict.ALERT if value < floor else Verdict.OK,
        f"{value:.1%} of {len(rows):,} labelled answers inside their interval vs "
        f"{nominal:.0%} nominal (alert below {floor:.0%})",
    )


def check_performance(
    model: ModelVersionRecord,
    answered: pd.DataFrame,
    labels: pd.DataFrame,
    cfg: ProjectConfig,
) -> tuple[Check, float]:
    """The key metric on the answered rows whose labels arrived, against its value at
    training; and the label coverage."""
    m = cfg.monitoring
    joined = labelled(answered, labels)
    coverage = len(joined) / len(answered) if len(answered) else 0.0
    km = model.key_metric
    if coverage >= m.min_label_coverage and len(joined) < m.min_labelled_rows:
        return _too_few(
            "performance",
            "performance",
            m.max_metric_decay,
            len(joined),
            m.min_labelled_rows,
            "labelled rows",
        ), coverage
    if coverage < m.min_label_coverage:
        return Check(
            "performance",
            "performance",
            None,
            m.max_metric_decay,
            Verdict.SKIPPED,
            f"only {coverage:.0%} of rows labelled ({len(joined)} rows): needs {m.min_label_coverage:.0%}",
        ), coverage
    answers = joined["prediction"].to_numpy(float)
    if cfg.task == "multiclass":  # the class probabilities, one p_<class> column each
        answers = joined[[f"p_{c}" for c in cfg.classes or []]].to_numpy(float)
    now_metric = evaluate(
        cfg.task, joined["value"].to_numpy(float), answers, cfg.training.threshold
    )[km]
    at_train = model.metrics[km]
    decay = (
        (at_train - now_metric) / abs(at_train)
        if km in HIGHER_IS_BETTER
        else (now_metric - at_train) / abs(at_train)
    )
    return Check(
        "performance",
        "performance",
        decay,
        m.max_metric_decay,
        Verdict.ALERT if decay > m.max_metric_decay else Verdict.OK,
        f"{km} {now_metric:.3f} on {len(joined):,} labelled rows ({coverage:.0%} coverage) vs "
        f"{at_train:.3f} at training: {decay:+.0%} (alert > {m.max_metric_decay:+.0%})",
    ), coverage


def check_guard_rate(model: ModelVersionRecord, out: pd.DataFrame, m: MonitoringSettings) -> Check:
    """How often the guard stepped in, against its rate on the holdout at training."""
    base_rate = float(model.resources.get("guard", {}).get("intervention_rate", 0.0))
    if len(out) < m.min_rows_guard:
        return _too_few(
            "guard_rate",
            "guard",
            m.max_guard_rate_increase,
            len(out),
            m.min_rows_guard,
            "scored rows",
        )
    rate = float((out["decision"] != "model").mean())
    increase = rate - base_rate
    return Check(
        "guard_rate",
        "guard",
        increase,
        m.max_guard_rate_increase,
        Verdict.ALERT if increase > m.max_guard_rate_increase else Verdict.OK,
        f"guard stepped in on {rate:.1%} of rows vs {base_rate:.1%} on the holdout "
        f"({increase:+.1%}, alert > {m.max_guard_rate_increase:+.0%})",
    )
