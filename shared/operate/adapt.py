"""Operate: adaptive intervals in use. Labels that arrive (``renkei feedback`` on batch
answers, or on online answers the service captured) move each alias's interval quantile
(shared.model.adaptive), one recorded update per feedback batch and alias
(shared.ledger.intervals); the service (shared.operate.holder) and the score flow
(shared.pipeline.score) answer with the newest one.

Only labels of answers the alias's *current* deployment gave move its quantile (answers of
an earlier model say nothing about this one's residuals); a new deployment starts again
from its calibrated quantile (factor 1). Labels are used in the order they were delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from shared.config import ProjectConfig
from shared.data.manifest import iter_frames
from shared.ledger import Alias, DeploymentRecord, FeedbackStatus, Ledger
from shared.ledger.intervals import IntervalUpdateRecord, NewIntervalUpdate
from shared.ledger.vocab import parse_version
from shared.model.adaptive import LabelScores, adapted, label_scores, track
from shared.model.conformal import Calibration

if TYPE_CHECKING:
    from shared.guard import GuardedModel
    from shared.guard.bundle_sign import ReleaseKeys
    from shared.ledger import FeedbackEntry

USABLE = (FeedbackStatus.ACCEPTED, FeedbackStatus.LATE)
_BY_MODEL = ("model", "corrected")


def current_factor(ledger: Ledger, alias: str, deployment_id: int) -> float:
    """The factor ``alias`` answers with while it serves ``deployment_id`` (1: none yet)."""
    last = ledger.intervals.latest(alias, deployment_id)
    return 1.0 if last is None else last.new_factor


def with_factor(guarded: GuardedModel, factor: float) -> GuardedModel:
    """``guarded`` answering with its calibrated quantiles times ``factor``."""
    if guarded.calibration is None or factor == 1.0:
        return guarded
    return guarded.with_calibration(adapted(guarded.calibration, factor))


def answered_with(ledger: Ledger, cfg: ProjectConfig, alias: str, dep: DeploymentRecord) -> float:
    """The factor a batch scored now by ``alias`` (serving ``dep``) answers with: the newest
    update's, 1 when adaptation is off (config intervals.adaptive.enabled)."""
    if not cfg.intervals.adaptive.enabled:
        return 1.0
    return current_factor(ledger, alias, dep.id)


def adapt_after_feedback(
    ledger: Ledger,
    cfg: ProjectConfig,
    entries: Sequence[FeedbackEntry],
    feedback_batch_id: int | None,
    actor: str,
    keys: ReleaseKeys,
) -> list[IntervalUpdateRecord]:
    """Move the quantile of every alias whose current deployment answered some of these
    labels; one recorded update per alias (none when adaptation is off or no label is
    usable)."""
    s = cfg.intervals.adaptive
    usable = [e for e in entries if e.status in USABLE and e.value is not None]
    if not s.enabled or not usable:
        return []
    labels = pd.DataFrame(
        {
            "order": np.arange(len(usable)),
            "row_id": [e.row_id for e in usable],
            "value": [float(e.value) for e in usable],  # type: ignore[arg-type]
            "scoring_batch_id": [e.scoring_batch_id for e in usable],
            "request_id": [e.request_id for e in usable],
        }
    )
    done = []
    for alias in (a.value for a in Alias):
        dep = ledger.releases.alias(alias)
        if dep is None:
            continue
        answers = _answers(ledger, cfg, labels, alias, dep)
        if answers.empty:
            continue
        from shared.guard.bundle import load_deployed

        cal = load_deployed(dep, keys).calibration
        if cal is None:
            continue
        scores = scores_of(answers, answers["value"].to_numpy(), cal, cfg)
        if not len(scores):
            continue
        old = current_factor(ledger, alias, dep.id)
        step = track(scores, old, cal.coverage, s)
        new = NewIntervalUpdate(
            alias,
            dep.id,
            parse_version(dep.version),
            feedback_batch_id,
            step.labels,
            step.covered,
            step.old_factor,
            step.new_factor,
            cal.model.q * step.old_factor,
            cal.model.q * step.new_factor,
        )
        done.append(ledger.intervals.record(new, actor))
    return done


def scores_of(
    answers: pd.DataFrame, y: np.ndarray, cal: Calibration, cfg: ProjectConfig
) -> LabelScores:
    """The labelled answers' scores (``answers``: prediction, decision and, multiclass,
    ``p_<class>``; ``y``: the labels, in order); rejected answers have none."""
    answered = answers["decision"].isin([*_BY_MODEL, "fallback"]).to_numpy()
    proba = None
    if cfg.task == "multiclass":
        cols = [f"p_{c}" for c in cfg.classes or []]
        if not all(c in answers.columns for c in cols):
            return LabelScores(np.array([]), np.array([], dtype=bool))
        proba = answers[cols].to_numpy(dtype=float)[answered]
    return label_scores(
        cal,
        answers["prediction"].to_numpy(dtype=float)[answered],
        np.asarray(y, dtype=float)[answered],
        answers["decision"].isin(_BY_MODEL).to_numpy()[answered],
        cfg.training.threshold,
        proba,
    )


def _answers(
    ledger: Ledger, cfg: ProjectConfig, labels: pd.DataFrame, alias: str, dep: DeploymentRecord
) -> pd.DataFrame:
    """The labels joined to the answers ``dep`` gave them (scored batches and captured
    online answers), in delivery order."""
    frames = []
    batch = labels[labels["scoring_batch_id"].notna()]
    for bid in sorted(set(batch["scoring_batch_id"].astype(int))):
        b = ledger.operations.scoring_batch(bid)
        if b.deployment_id != dep.id:
            continue
        cols = ["row_id", "prediction", "decision"]
        if cfg.task == "multiclass":
            cols += [f"p_{c}" for c in cfg.classes or []]
        out = pd.concat(list(iter_frames(b.output_uri, cols)), ignore_index=True)
        out = out.drop_duplicates("row_id", keep="last")
        mine = batch[batch["scoring_batch_id"] == bid]
        frames.append(mine.merge(out, on="row_id", how="inner"))
    online = labels[labels["request_id"].notna()]
    if not online.empty:
        from shared.operate.captured import read_capture

        cap = read_capture(cfg.storage.data_root, alias)
        cap = cap[cap["deployment_id"] == dep.id].drop(columns=["alias"], errors="ignore")
        if not cap.empty:
            cap = cap.drop_duplicates(["request_id", "row_id"], keep="last")
            frames.append(online.merge(cap, on=["request_id", "row_id"], how="inner"))
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).sort_values("order", kind="stable")
