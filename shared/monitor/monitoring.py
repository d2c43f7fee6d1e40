"""Monitor: drift, prediction drift, performance on arrived labels and guard rates, each
against a threshold from config, and the retraining decision that follows. The window
holds the newest scoring batches and the captured online answers beside them
(shared.monitor.online); a shadow challenger is compared with production on the labels
that arrived (shared.monitor.shadow: evidence, never an alert)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shared.config import ProjectConfig
from shared.config.errors import RenkeiError
from shared.data import storage
from shared.data.contracts import ColumnSpec, Contracts, build_contracts
from shared.data.manifest import iter_frames
from shared.data.partitions import iter_landed
from shared.data.sampling import Reservoir
from shared.data.validation import RawInputError, check_rows
from shared.ledger import Ledger, ModelVersionRecord
from shared.model.conformal import CALIBRATION_FILE, Calibration
from shared.model.drift import ReferenceProfile
from shared.monitor.adaptive import STATIC_KIND, check_static_coverage
from shared.monitor.checks import (
    Check,
    Verdict,
    check_data_drift,
    check_guard_rate,
    check_interval_coverage,
    check_missing_share,
    check_performance,
    check_prediction_drift,
    labelled,
)
from shared.monitor.classes import check_class_mix, check_set_coverage
from shared.monitor.online import keyed_labels, online_outputs, online_window
from shared.monitor.shadow import ShadowComparison, challenger_rows, compare, shadow_check
from shared.training import load_optional


class MonitoringError(RenkeiError, ValueError):
    """Monitoring cannot run (nothing scored yet, no reference profile)."""


@dataclass
class MonitoringResult:
    version: str
    batches: list[int]
    rows: int
    label_coverage: float
    checks: list[Check] = field(default_factory=list)
    online_rows: int = 0  # captured online answers in the window
    shadow: ShadowComparison | None = None

    @property
    def drifted_features(self) -> list[str]:
        # a feature counts once, whether its distribution or its missing share moved
        return list(
            dict.fromkeys(
                c.name.split(":", 1)[1]
                for c in self.checks
                if c.kind == "data_drift" and c.verdict == Verdict.ALERT
            )
        )

    def retrain_reasons(self, cfg: ProjectConfig) -> list[str]:
        reasons = []
        drifted = self.drifted_features
        if len(drifted) >= cfg.monitoring.min_drifted_features:
            reasons.append(f"data drift in {len(drifted)} features: {', '.join(drifted)}")
        for c in self.checks:
            if c.kind not in ("data_drift", STATIC_KIND) and c.verdict == Verdict.ALERT:
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


def _window_inputs(
    batches: list[Any], cfg: ProjectConfig, online: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Usable feature rows of the window's inputs (batches read partition by partition, then
    the online answers; a uniform sample of at most ``monitoring.drift_sample_rows``), and the
    window's guarded outputs (with the slice features)."""
    contracts = build_contracts(cfg)
    specs = [s for s in contracts.columns if s.name in cfg.features]
    feats, outs = Reservoir(cfg.monitoring.drift_sample_rows), []
    for b in batches:
        slices = []
        try:
            for raw in iter_landed(b.input_uri, b.input_source, cfg.storage.partition_rows):
                raw = raw.reset_index(drop=True)
                slices.append(raw[[n for n in cfg.training.slices if n in raw]])
                feats.add(_usable_features(raw, contracts, specs))
            scored = pd.concat(list(iter_frames(b.output_uri)), ignore_index=True)
        except FileNotFoundError as e:
            raise MonitoringError(
                f"scoring batch {b.id}: a file the ledger points at is gone ({e})"
            ) from None
        except RawInputError as e:
            raise MonitoringError(f"scoring batch {b.id}: {e}") from None
        if "input_row" in scored and slices:  # the slice features of each scored row
            rows = scored["input_row"].to_numpy()
            for name, values in pd.concat(slices, ignore_index=True).items():
                scored[name] = values.to_numpy()[rows]
        outs.append(scored.assign(scoring_batch_id=b.id, source="batch"))
    if not online.empty:
        feats.add(
            _usable_features(
                online[[c for c in cfg.features if c in online]].copy(), contracts, specs
            )
        )
        outs.append(online_outputs(online))
    return feats.frame(), pd.concat(outs, ignore_index=True)


def _usable_features(
    raw: pd.DataFrame, contracts: Contracts, specs: list[ColumnSpec]
) -> pd.DataFrame:
    raw = raw.reset_index(drop=True)
    for s in specs:
        if s.name not in raw:
            raw[s.name] = None
    checked = check_rows(raw, contracts, specs, unique=False)
    ok = np.ones(len(raw), dtype=bool)
    ok[checked.reasons["row"].to_numpy()] = False
    return pd.DataFrame({k: v[ok].reset_index(drop=True) for k, v in checked.typed.items()})


def monitor(ledger: Ledger, cfg: ProjectConfig, window: int | None = None) -> MonitoringResult:
    """Run every check over the newest ``window`` scoring batches of the production model."""
    m = cfg.monitoring
    dep = ledger.releases.alias("production")
    if dep is None:
        raise MonitoringError("nothing is in production: nothing to monitor")
    batches = [b for b in ledger.operations.scoring_batches() if b.version == dep.version][
        -(window or m.window_batches) :
    ]
    online = online_window(
        cfg, "production", dep.version, batches[0].created_at if batches else None
    )
    if not batches and online.empty:
        raise MonitoringError(
            f"no scoring batch or captured online answer of the production model {dep.version} yet"
        )
    model = ledger.registry.model(dep.version)
    ref = load_reference(model)
    x, out = _window_inputs(batches, cfg, online)
    result = MonitoringResult(dep.version, [b.id for b in batches], len(out), 0.0)
    result.online_rows = len(online)
    labels = keyed_labels(ledger.operations.labelled_rows())
    drift = [check_data_drift(name, ref, x, m) for name in cfg.features]
    drift += [check_missing_share(name, ref, x, m) for name in cfg.nullable_features]
    answered = out[out["decision"] != "rejected"]
    prediction = check_prediction_drift(ref, answered, m)
    performance, result.label_coverage = check_performance(model, answered, labels, cfg)
    found = challenger_rows(out, labels)
    if found is not None:
        result.shadow = compare(found[1], cfg, dep.version, found[0])
    guard = check_guard_rate(model, out, m)
    intervals = check_interval_coverage(labelled(answered, labels), nominal_coverage(model), m)
    class_mix = check_class_mix(ref, answered, m)  # multiclass: the predicted class mix
    if cfg.task == "multiclass":  # the prediction sets' coverage
        intervals = check_set_coverage(labelled(answered, labels), nominal_coverage(model), cfg)
    static = check_static_coverage(labelled(answered, labels), model, cfg)  # no adaptation
    checks = [*drift, prediction, class_mix, performance, guard, intervals, static]
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
        [asdict(c) for c in result.checks]
        + ([shadow_check(result.shadow)] if result.shadow is not None else []),
        bool(reasons),
        reasons,
        actor,
    )
