"""Fitting: one family trained and scored on the holdout, its guard decisions, CPU vs GPU families."""

from __future__ import annotations

import json
from typing import Any

from shared.config import ProjectConfig, RulesConfig
from shared.guard import Envelope, GuardedModel, decision_counts, intervention_rate
from shared.model.conformal import CALIBRATION_FILE, calibrate
from shared.model.drift import reference_profile
from shared.model.families import Baseline, FitReport, new_model
from shared.model.metrics import evaluate, slice_metrics

from .artifacts import save_artifacts
from .candidate import Candidate, TrainingError
from .external import SpilledSplit
from .inputs import TrainingSplit


def train_candidate(
    family: str,
    split: TrainingSplit | SpilledSplit,
    cfg: ProjectConfig,
    rules: RulesConfig | None = None,
    envelope: Envelope | None = None,
) -> Candidate:
    """Fit one family on train (early stopping on validation) and score it on the holdout.

    With ``rules`` and ``envelope``, also runs the guarded model over the holdout and keeps
    its decision counts (for the guard-rate gate) and the envelope (for the bundle). A
    spilled split (training.memory: external) is read part by part (:mod:`.streamfit`).
    """
    if isinstance(split, SpilledSplit):
        from .streamfit import train_external

        return train_external(family, split, cfg, rules, envelope)
    model = new_model(family, cfg)
    seed = cfg.training.seed
    if family == "baseline":
        report = model.fit(split.train, split.y("train"))
    else:
        report = model.fit(
            split.train, split.y("train"), split.validation, split.y("validation"), seed
        )
    c = score_candidate(family, model, report, split, cfg)
    if cfg.task == "multiclass":  # the holdout's confusion matrix and per-class metrics
        from shared.model.multiclass import CLASSES_FILE, class_report

        table = class_report(split.y("holdout"), model.predict(split.holdout), cfg.classes or [])
        c.files[CLASSES_FILE] = json.dumps(table, indent=2).encode()
    if rules is not None and envelope is not None:
        baseline = Baseline(cfg)
        baseline.fit(split.train, split.y("train"))
        cal = calibrate(model, baseline, split.validation, split.y("validation"), cfg)
        guarded = GuardedModel(
            model, baseline, cfg, rules, envelope, family, rules.rules_hash(), cal
        )
        out = guarded.predict(split.holdout)
        c.guard = {"intervention_rate": intervention_rate(out), "decisions": decision_counts(out)}
        c.files["envelope.json"] = json.dumps(envelope.to_dict(), indent=2).encode()
        if cal is not None:  # intervals: the bundle carries the calibration
            c.files[CALIBRATION_FILE] = cal.to_json()
        # the drift reference: training distributions and the holdout's predictions, once
        profile = reference_profile(split.train, cfg, model.predict(split.holdout))
        c.files["reference.json"] = json.dumps(profile.to_dict()).encode()
    return c


def score_candidate(
    family: str, model: Any, report: FitReport, split: TrainingSplit, cfg: ProjectConfig
) -> Candidate:
    p = model.predict(split.holdout)
    y = split.y("holdout")
    t = cfg.training
    return Candidate(
        family,
        evaluate(cfg.task, y, p, t.threshold, cfg.classes),
        slice_metrics(cfg.task, split.holdout, y, p, t.slices, t.threshold),
        report,
        model.to_files(),
    )


# Families that use a GPU when there is one (XGBoost and PyTorch pick `cuda`); deployed, they
# train in the GPU step. The others (the Software 1.0 baseline rule) train on a CPU.
GPU_FAMILIES = ("xgboost", "torch_mlp")


def families_by_device(cfg: ProjectConfig) -> tuple[list[str], list[str]]:
    """The configured families that train on a CPU, and those that use a GPU."""
    fams = cfg.training.families
    gpu = [f for f in fams if f in GPU_FAMILIES]
    if not gpu:
        raise TrainingError("training.families names no learned family (xgboost, torch_mlp)")
    return [f for f in fams if f not in GPU_FAMILIES], gpu


def train_and_save(
    family: str,
    split: TrainingSplit | SpilledSplit,
    cfg: ProjectConfig,
    rules: RulesConfig,
    envelope: Envelope,
    run_key: str,
    folder: str | None = None,
) -> Candidate:
    """Fit, score and store one family's artifact (what a training task does; ``folder``:
    where under the run's models, the family's name unless given)."""
    c = train_candidate(family, split, cfg, rules, envelope)
    c.artifact_uri = save_artifacts(c, cfg.storage.data_root, run_key, folder)
    return c
