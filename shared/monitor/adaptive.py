"""Monitor: interval coverage without adaptation, beside the served (adapted) coverage that
``interval_coverage`` measures: the labelled answers' coverage had every interval kept the
calibrated quantile (shared.model.adaptive, factor 1). Informational: the served coverage
is the one that alerts; this one shows what adaptation recovered (and, when it is low while
the served one holds, that the model drifted: the drift checks decide the retraining)."""

from __future__ import annotations

import pandas as pd

from shared.config import ProjectConfig
from shared.ledger import ModelVersionRecord
from shared.model.conformal import CALIBRATION_FILE, Calibration
from shared.monitor.checks import Check, Verdict, _too_few
from shared.operate.adapt import scores_of
from shared.training import load_optional

STATIC = "interval_coverage_without_adaptation"
STATIC_KIND = "intervals_static"  # never a retrain reason (MonitoringResult.retrain_reasons)


def check_static_coverage(
    joined: pd.DataFrame, model: ModelVersionRecord, cfg: ProjectConfig
) -> Check | None:
    """Coverage of the labelled answers (``joined``: prediction, decision, ``value``) at the
    calibrated quantile; None when the model has no intervals."""
    data = load_optional(model.artifact_uri, CALIBRATION_FILE)
    if data is None or "prediction" not in joined:
        return None
    cal = Calibration.from_json(data)
    m = cfg.monitoring
    floor = cal.coverage - m.max_coverage_drop
    scores = scores_of(joined, joined["value"].to_numpy(float), cal, cfg)
    if len(scores) < m.min_labelled_rows:
        return _too_few(
            STATIC, STATIC_KIND, floor, len(scores), m.min_labelled_rows, "labelled rows"
        )
    value = float(scores.covered(1.0).mean())
    return Check(
        STATIC,
        STATIC_KIND,
        value,
        floor,
        Verdict.ALERT if value < floor else Verdict.OK,
        f"{value:.1%} of {len(scores):,} labelled answers inside the interval at the calibrated "
        f"quantile (no adaptation) vs {cal.coverage:.0%} nominal",
    )
