"""Monitor: drift, prediction drift, performance on arrived labels and guard rates, each
against a threshold from config, and the retraining decision that follows."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from shared.config import ProjectConfig
from shared.data import storage
from shared.data.contracts import build_contracts
from shared.data.ingest import read_raw
from shared.data.validation import RawInputError, check_rows
from shared.ledger import Alias, Ledger, ModelVersionRecord
from shared.monitor.drift import (
    ReferenceProfile,
    categorical_psi,
    chi_square,
    numeric_drift,
    numeric_psi,
)
from shared.training.metrics import evaluate


class MonitoringError(ValueError):
    """Monitoring cannot run (nothing scored yet, no reference profile)."""


class Verdict(StrEnum):
    """A check's verdict. Only ``alert`` can start a retrain."""

    OK = "ok"
    ALERT = "alert"
    SKIPPED = "skipped"  # performance: too few labels arrived (coverage)
    NOT_ENOUGH_ROWS = "not enough rows"  # under the check's minimum sample size


@dataclass(frozen=True)
class Check:
    name: str  # e.g. "drift:distance_km"
    kind: str  # data_drift | prediction_drift | performance | guard
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


@dataclass
class MonitoringResult:
    version: str
    batches: list[int]
    rows: int
    label_coverage: float
    checks: list[Check] = field(default_factory=list)

    @property
    def drifted_features(self) -> list[str]:
        return [
            c.name.split(":", 1)[1]
            for c in self.checks
            if c.kind == "data_drift" and c.verdict == Verdict.ALERT
        ]

    def retrain_reasons(self, cfg: ProjectConfig) -> list[str]:
        reasons = []
        drifted = self.drifted_features
        if len(drifted) >= cfg.monitoring.min_drifted_features:
            reasons.append(f"data drift in {len(drifted)} features: {', '.join(drifted)}")
        for c in self.checks:
            if c.kind != "data_drift" and c.verdict == Verdict.ALERT:
                reasons.append(f"{c.name}: {c.detail}")
        return reasons


def load_reference(model: ModelVersionRecord) -> ReferenceProfile:
    try:
        data = storage.read_bytes(storage.join(model.artifact_uri, "reference.json"))
    except FileNotFoundError:
        raise MonitoringError(
            f"{model.version} has no reference profile (reference.json): retrain it with this version of Renkei"
        ) from None
    return ReferenceProfile.from_dict(json.loads(data))


def _window_inputs(batches: list[Any], cfg: ProjectConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Usable feature rows of the window's inputs, and the window's guarded outputs."""
    contracts = build_contracts(cfg)
    specs = [s for s in contracts.columns if s.name in cfg.features]
    feats, outs = [], []
    for b in batches:
        fmt = "parquet" if b.input_uri.endswith((".parquet", ".pq")) else "csv"
        try:
            raw = read_raw(storage.read_bytes(b.input_uri), b.input_source, fmt)
            scored = storage.read_parquet(b.output_uri)
        except FileNotFoundError as e:
            raise MonitoringError(
                f"scoring batch {b.id}: a file the ledger points at is gone ({e})"
            ) from None
        except RawInputError as e:
            raise MonitoringError(f"scoring batch {b.id}: {e}") from None
        raw = raw.reset_index(drop=True)
        for s in specs:
            if s.name not in raw:
                raw[s.name] = None
        checked = check_rows(raw, contracts, specs, unique=False)
        ok = np.ones(len(raw), dtype=bool)
        ok[checked.reasons["row"].to_numpy()] = False
        feats.append(
            pd.DataFrame({k: v[ok].reset_index(drop=True) for k, v in checked.typed.items()})
        )
        outs.append(scored.assign(scoring_batch_id=b.id))
    return pd.concat(feats, ignore_index=True), pd.concat(outs, ignore_index=True)


def monitor(ledger: Ledger, cfg: ProjectConfig, window: int | None = None) -> MonitoringResult:
    """Run every check over the newest ``window`` scoring batches of the production model."""
    m = cfg.monitoring
    dep = ledger.releases.alias(Alias.PRODUCTION)
    if dep is None:
        raise MonitoringError("nothing is in production: nothing to monitor")
    batches = [b for b in ledger.operations.scoring_batches() if b.version == dep.version][
        -(window or m.window_batches) :
    ]
    if not batches:
        raise MonitoringError(f"no scoring batch of the production model {dep.version} yet")
    model = ledger.registry.model(dep.version)
    ref = load_reference(model)
    x, out = _window_inputs(batches, cfg)
    result = MonitoringResult(dep.version, [b.id for b in batches], len(out), 0.0)
    for name in cfg.features:
        if name not in ref.numeric and name not in ref.categorical:
            continue
        usable = int(x[name].notna().sum())
        if usable < m.min_rows_drift:
            result.checks.append(
                _too_few(
                    f"drift:{name}", "data_drift", m.psi_alert, usable, m.min_rows_drift, "rows"
                )
            )
            continue
        if name in ref.numeric:
            value, _, p = numeric_drift(ref.numeric[name], x[name].to_numpy(dtype=float))
            test = "KS"
        else:
            value = categorical_psi(ref.categorical[name], x[name])
            _, p = chi_square(ref.categorical[name], x[name])
            test = "chi-square"
        alert = value > m.psi_alert or p < m.ks_pvalue
        result.checks.append(
            Check(
                f"drift:{name}",
                "data_drift",
                value,
                m.psi_alert,
                Verdict.ALERT if alert else Verdict.OK,
                f"PSI {value:.3f} (alert > {m.psi_alert}), {test} p={p:.2g} (alert < {m.ks_pvalue})",
            )
        )
    answered = out[out["decision"] != "rejected"]
    if ref.prediction is not None and len(answered) < m.min_rows_prediction:
        result.checks.append(
            _too_few(
                "prediction_drift",
                "prediction_drift",
                m.prediction_psi_alert,
                len(answered),
                m.min_rows_prediction,
                "answered rows",
            )
        )
    elif ref.prediction is not None:
        value = numeric_psi(ref.prediction, answered["prediction"].to_numpy(dtype=float))
        result.checks.append(
            Check(
                "prediction_drift",
                "prediction_drift",
                value,
                m.prediction_psi_alert,
                Verdict.ALERT if value > m.prediction_psi_alert else Verdict.OK,
                f"PSI of predictions vs the holdout's {value:.3f} (alert > {m.prediction_psi_alert})",
            )
        )
    # a label counts for the scored row of the batch it was delivered for, once
    labels = ledger.operations.labelled_rows().drop_duplicates(
        ["scoring_batch_id", "row_id"], keep="first"
    )
    joined = answered.merge(
        labels[["scoring_batch_id", "row_id", "value"]],
        on=["scoring_batch_id", "row_id"],
        how="inner",
    )
    coverage = len(joined) / len(answered) if len(answered) else 0.0
    result.label_coverage = coverage
    km = model.key_metric
    if coverage >= m.min_label_coverage and len(joined) < m.min_labelled_rows:
        result.checks.append(
            _too_few(
                "performance",
                "performance",
                m.max_metric_decay,
                len(joined),
                m.min_labelled_rows,
                "labelled rows",
            )
        )
    elif coverage >= m.min_label_coverage:
        now_metric = evaluate(
            cfg.task,
            joined["value"].to_numpy(float),
            joined["prediction"].to_numpy(float),
            cfg.training.threshold,
        )[km]
        at_train = model.metrics[km]
        decay = (
            (at_train - now_metric) / abs(at_train)
            if km == "roc_auc"
            else (now_metric - at_train) / abs(at_train)
        )
        result.checks.append(
            Check(
                "performance",
                "performance",
                decay,
                m.max_metric_decay,
                Verdict.ALERT if decay > m.max_metric_decay else Verdict.OK,
                f"{km} {now_metric:.3f} on {len(joined):,} labelled rows ({coverage:.0%} coverage) vs "
                f"{at_train:.3f} at training: {decay:+.0%} (alert > {m.max_metric_decay:+.0%})",
            )
        )
    else:
        result.checks.append(
            Check(
                "performance",
                "performance",
                None,
                m.max_metric_decay,
                Verdict.SKIPPED,
                f"only {coverage:.0%} of rows labelled ({len(joined)} rows): needs {m.min_label_coverage:.0%}",
            )
        )
    base_rate = float(model.resources.get("guard", {}).get("intervention_rate", 0.0))
    if len(out) < m.min_rows_guard:
        result.checks.append(
            _too_few(
                "guard_rate",
                "guard",
                m.max_guard_rate_increase,
                len(out),
                m.min_rows_guard,
                "scored rows",
            )
        )
        return result
    rate = float((out["decision"] != "model").mean())
    increase = rate - base_rate
    result.checks.append(
        Check(
            "guard_rate",
            "guard",
            increase,
            m.max_guard_rate_increase,
            Verdict.ALERT if increase > m.max_guard_rate_increase else Verdict.OK,
            f"guard stepped in on {rate:.1%} of rows vs {base_rate:.1%} on the holdout "
            f"({increase:+.1%}, alert > {m.max_guard_rate_increase:+.0%})",
        )
    )
    return result


def record(
    ledger: Ledger, cfg: ProjectConfig, result: MonitoringResult, flow_run: str | None, actor: str
) -> Any:
    reasons = result.retrain_reasons(cfg)
    return ledger.monitoring.record(
        flow_run,
        result.version,
        result.batches,
        result.rows,
        result.label_coverage,
        [asdict(c) for c in result.checks],
        bool(reasons),
        reasons,
        actor,
    )


def start_training_run(project: dict[str, Any], flows_dir: str) -> str:
    """Start the train flow locally with the given frozen project set (project.yaml with
    its rules, roles and costs, as the monitor flow's ``project`` Config holds them), so the
    retrain uses the project's rules; return its pathspec. Raises MonitoringError with the
    run's last output when it fails."""
    import os
    import subprocess
    import sys

    from shared.deploy import frozen_yaml
    from shared.paths import FLOW_FILES

    with frozen_yaml(project) as path:
        cmd = [
            sys.executable,
            os.path.join(flows_dir, FLOW_FILES["TrainFlow"]),
            "--config",
            "project",
        ]
        done = subprocess.run([*cmd, path, "run"], capture_output=True, text=True)
    if done.returncode != 0:
        raise MonitoringError(f"the retraining run failed:\n{done.stderr[-2000:]}")
    for line in done.stdout.splitlines() + done.stderr.splitlines():
        if "Workflow starting (run-id " in line:
            return "TrainFlow/" + line.split("(run-id ", 1)[1].split(")", 1)[0]
    raise MonitoringError("the retraining run finished but printed no run id")


def start_production_training(project_name: str, branch: str = "prod") -> str:
    """Start the deployed train state machine (``<project>.<branch>.TrainFlow``) on AWS Step
    Functions; return the execution ARN. Used when the monitor flow itself runs deployed."""
    import json

    import boto3

    sfn = boto3.client("stepfunctions")
    name = f"{project_name}.{branch}.TrainFlow"
    machines = [
        m for p in sfn.get_paginator("list_state_machines").paginate() for m in p["stateMachines"]
    ]
    found = [m for m in machines if m["name"] == name]
    if not found:
        raise MonitoringError(f"no deployed state machine {name!r}: run `renkei deploy aws` first")
    run = sfn.start_execution(
        stateMachineArn=found[0]["stateMachineArn"], input=json.dumps({"Parameters": "{}"})
    )
    return run["executionArn"]
