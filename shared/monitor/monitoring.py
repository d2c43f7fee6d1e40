"""Monitor: drift, prediction drift, performance on arrived labels and guard rates, each
against a threshold from config, and the retraining decision that follows."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shared.config import ProjectConfig
from shared.data import storage
from shared.data.contracts import build_contracts
from shared.data.ingest import read_raw
from shared.data.validation import RawInputError, check_rows
from shared.ledger import Ledger, ModelVersionRecord
from shared.monitor.checks import (
    Check,
    Verdict,
    check_data_drift,
    check_guard_rate,
    check_interval_coverage,
    check_performance,
    check_prediction_drift,
    labelled,
)
from shared.monitor.drift import ReferenceProfile
from shared.training import load_optional
from shared.training.conformal import CALIBRATION_FILE, Calibration


class MonitoringError(ValueError):
    """Monitoring cannot run (nothing scored yet, no reference profile)."""


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


def nominal_coverage(model: ModelVersionRecord) -> float | None:
    """The coverage the model's intervals were calibrated for (None: trained without)."""
    cal = load_optional(model.artifact_uri, CALIBRATION_FILE)
    return None if cal is None else Calibration.from_json(cal).coverage


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
    dep = ledger.releases.alias("production")
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
    drift = [check_data_drift(name, ref, x, m) for name in cfg.features]
    answered = out[out["decision"] != "rejected"]
    prediction = check_prediction_drift(ref, answered, m)
    labels = ledger.operations.labelled_rows()
    performance, result.label_coverage = check_performance(model, answered, labels, cfg)
    guard = check_guard_rate(model, out, m)
    intervals = check_interval_coverage(labelled(answered, labels), nominal_coverage(model), m)
    checks = [*drift, prediction, performance, guard, intervals]
    result.checks = [c for c in checks if c is not None]
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
