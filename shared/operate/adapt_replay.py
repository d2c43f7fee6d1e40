"""Operate: the adaptive intervals' replay protocol. A scoring batch's labelled answers are
replayed in the order their labels arrived (``delivered_at`` when the labels carry it, else
the file's order), delivered ``every`` labels at a time: each delivery's answers carry the
interval at the factor the deliveries before it left (factor 1 first: the calibrated
quantile), then the factor adapts on them (shared.model.adaptive). The coverage without
adaptation is the same answers' at the calibrated quantile. Nothing is written."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared.config import ProjectConfig
from shared.config.errors import RenkeiError
from shared.data.manifest import iter_frames
from shared.guard.bundle_sign import ReleaseKeys
from shared.ledger import Ledger
from shared.model.adaptive import Replay, replay
from shared.operate.adapt import scores_of

ARRIVAL = "delivered_at"  # the labels' column saying when each arrived (the generator's)


class ReplayError(RenkeiError):
    """The replay cannot run (no intervals, no labelled answers)."""


def replay_batch(
    ledger: Ledger,
    cfg: ProjectConfig,
    labels: pd.DataFrame,
    every: int,
    batch: int | None = None,
    *,
    keys: ReleaseKeys,
) -> Replay:
    """Replay scoring batch ``batch``'s (default: the newest) answers labelled by
    ``labels`` (the id and target columns), ``every`` labels a delivery."""
    from shared.guard.bundle import load_deployed
    from shared.operate.feedback import _in_range, _label_values

    batches = [b for b in ledger.operations.scoring_batches() if batch in (None, b.id)]
    if not batches:
        raise ReplayError(f"no scoring batch {batch or ''}: score one first (score_flow.py)")
    b = batches[-1]
    cal = load_deployed(ledger.releases.deployment(b.deployment_id), keys).calibration
    if cal is None:
        raise ReplayError(f"{b.version} has no intervals: retrain it with intervals.coverage set")
    if ARRIVAL in labels:
        labels = labels.sort_values(ARRIVAL, kind="stable")
    cols = ["row_id", "prediction", "decision"]
    if cfg.task == "multiclass":
        cols += [f"p_{c}" for c in cfg.classes or []]
    answers = pd.concat(list(iter_frames(b.output_uri, cols)), ignore_index=True)
    y = _label_values(labels[cfg.target], cfg).to_numpy(dtype=float)
    ok = np.array([_in_range(v, cfg) for v in y], dtype=bool)  # as feedback keeps them
    ids = labels[cfg.id_column].astype(str).to_numpy()
    keyed = pd.DataFrame({"row_id": ids[ok], "value": y[ok]})
    joined = keyed.merge(answers.drop_duplicates("row_id"), on="row_id", how="inner")
    scores = scores_of(joined, joined["value"].to_numpy(float), cal, cfg)
    if not len(scores):
        raise ReplayError(f"none of these labels names an answered row of scoring batch {b.id}")
    return replay(scores, every, cal.coverage, cfg.intervals.adaptive)
