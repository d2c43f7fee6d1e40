"""One family fitted and scored through the parts of a spilled split (training.memory).

What a training task holds here is bounded by one batch of ``batch_rows`` rows plus the
seeded samples (:meth:`SpilledSplit.sample`): XGBoost reads the train and validation parts
through external memory, the MLP iterates over them, the baseline rule (it cannot stream) is
fitted on the train sample; the holdout is scored batch by batch, keeping only the
predictions, labels and slice columns (as categorical codes: per holdout row, a few bytes);
the calibration rows are the validation sample (the conformal logic itself is unchanged,
its predictions made in batches); the drift reference is the train sample's. The lineage
records which steps used the sample.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared.config import ProjectConfig, RulesConfig
from shared.guard import Envelope, GuardedModel, decision_counts
from shared.model.conformal import CALIBRATION_FILE, calibrate
from shared.model.drift import reference_profile
from shared.model.families import Baseline, new_model
from shared.model.metrics import evaluate, slice_metrics

from .candidate import Candidate
from .external import SpilledSplit


def _y(rows: pd.DataFrame, target: str) -> np.ndarray:
    return rows[target].to_numpy(dtype=float)


def _slice_frame(batches: list[dict[str, pd.Series]], columns: list[str]) -> pd.DataFrame:
    """The holdout's slice columns, gathered from its batches as categoricals (a small code
    per row instead of a string object), with the values :func:`slice_metrics` reads."""
    from pandas.api.types import union_categoricals

    out = {}
    for c in columns:
        cats = [b[c] for b in batches]
        out[c] = pd.Series(union_categoricals(cats, ignore_order=True)) if cats else []
    return pd.DataFrame(out)


def train_external(
    family: str,
    split: SpilledSplit,
    cfg: ProjectConfig,
    rules: RulesConfig | None = None,
    envelope: Envelope | None = None,
) -> Candidate:
    """:func:`shared.training.fit.train_candidate` over a spilled split."""
    import json

    target, t = split.target, cfg.training
    model = new_model(family, cfg)
    sampled: list[str] = []
    train_sample: pd.DataFrame | None = None
    if family == "baseline":
        train_sample = split.sample("train")
        report = model.fit(train_sample, _y(train_sample, target))
        sampled.append("fit")
    else:
        report, model_sampled = model.fit_parts(split, t.seed)
        sampled += model_sampled
    guarded = cal = None
    if rules is not None and envelope is not None:
        train_sample = split.sample("train") if train_sample is None else train_sample
        baseline = Baseline(cfg)
        baseline.fit(train_sample, _y(train_sample, target))
        valid = split.sample("validation")
        cal = calibrate(model, baseline, valid, _y(valid, target), cfg)
        del valid
        sampled += ["guard_baseline", "calibration", "drift_reference"]
        guarded = GuardedModel(
            model, baseline, cfg, rules, envelope, family, rules.rules_hash(), cal
        )
    ps, ys, slices = [], [], []
    counts: dict[str, int] = {}
    for part in split.frames("holdout"):  # in batches of batch_rows rows
        ps.append(np.asarray(model.predict(part)))
        ys.append(_y(part, target))
        slices.append({c: part[c].astype("category") for c in t.slices})  # a code per row
        if guarded is not None:
            for d, k in decision_counts(guarded.predict(part)).items():
                counts[d] = counts.get(d, 0) + k
        del part
    p, y = np.concatenate(ps), np.concatenate(ys)
    del ps, ys
    holdout_slices = _slice_frame(slices, t.slices)
    del slices
    c = Candidate(
        family,
        evaluate(cfg.task, y, p, t.threshold, cfg.classes),
        slice_metrics(cfg.task, holdout_slices, y, p, t.slices, t.threshold),
        report,
        model.to_files(),
    )
    c.data = split.lineage(sampled)
    if cfg.task == "multiclass":
        from shared.model.multiclass import CLASSES_FILE, class_report

        table = class_report(y, p, cfg.classes or [])
        c.files[CLASSES_FILE] = json.dumps(table, indent=2).encode()
    if guarded is not None and envelope is not None and train_sample is not None:
        n = sum(counts.values())
        rate = (n - counts.get("model", 0)) / n if n else 0.0
        c.guard = {"intervention_rate": float(rate), "decisions": counts}
        c.files["envelope.json"] = json.dumps(envelope.to_dict(), indent=2).encode()
        if cal is not None:
            c.files[CALIBRATION_FILE] = cal.to_json()
        profile = reference_profile(train_sample, cfg, p)
        c.files["reference.json"] = json.dumps(profile.to_dict()).encode()
    return c
