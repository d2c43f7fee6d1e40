"""Hyperparameter search (training.search, issue 28 item 1): an Optuna study per learned
family (TPE sampler, median pruner; :mod:`.study`), its trials run by the train flow's
tasks in groups on the validation split, each group's best trial refitted, scored on the
holdout and saved; the compare step keeps the best group per family (:func:`.study.choose`)
and puts it through the same gates as an untuned family.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import TYPE_CHECKING, Any

from shared.config import ProjectConfig, RulesConfig
from shared.guard import Envelope

from .candidate import Candidate, TrainingError
from .external import SpilledSplit
from .fit import train_and_save
from .inputs import TrainingSplit
from .study import TrialGroup, open_storage, study_name

if TYPE_CHECKING:
    import optuna


# -- the search space ----------------------------------------------------------------------
MLP_SHAPES = ("32", "64-32", "128-64", "128-64-32")


def _log_range(low: float, high: float, default: float) -> tuple[float, float]:
    return min(low, default), max(high, default)


def suggest(trial: optuna.Trial, family: str, cfg: ProjectConfig) -> dict[str, Any]:
    """A trial's settings for ``family`` (a small space around the configured ones)."""
    t = cfg.training
    if family == "xgboost":
        lo, hi = _log_range(0.01, 0.3, t.xgboost.learning_rate)
        return {
            "max_depth": trial.suggest_int(
                "max_depth", min(3, t.xgboost.max_depth), max(10, t.xgboost.max_depth)
            ),
            "learning_rate": trial.suggest_float("learning_rate", lo, hi, log=True),
        }
    if family == "torch_mlp":
        shapes = sorted({*MLP_SHAPES, _shape(t.torch_mlp.hidden)})
        lo, hi = _log_range(3e-4, 1e-2, t.torch_mlp.learning_rate)
        batches = sorted({128, 256, 512, t.torch_mlp.batch_size})
        return {
            "hidden": trial.suggest_categorical("hidden", shapes),
            "learning_rate": trial.suggest_float("learning_rate", lo, hi, log=True),
            "batch_size": trial.suggest_categorical("batch_size", batches),
        }
    raise TrainingError(f"training.search: no search space for family {family!r}")


def _shape(hidden: list[int]) -> str:
    return "-".join(str(h) for h in hidden)


def configured(family: str, cfg: ProjectConfig) -> dict[str, Any]:
    """The configured settings as a trial's parameters (the study's first trial)."""
    t = cfg.training
    if family == "xgboost":
        return {"max_depth": t.xgboost.max_depth, "learning_rate": t.xgboost.learning_rate}
    return {
        "hidden": _shape(t.torch_mlp.hidden),
        "learning_rate": t.torch_mlp.learning_rate,
        "batch_size": t.torch_mlp.batch_size,
    }


def tuned_config(cfg: ProjectConfig, family: str, params: dict[str, Any]) -> ProjectConfig:
    """The project's settings with ``family``'s replaced by a trial's parameters."""
    p = dict(params)
    if "hidden" in p:
        p["hidden"] = [int(h) for h in str(p["hidden"]).split("-")]
    section = getattr(cfg.training, family).model_copy(update=p)
    training = cfg.training.model_copy(update={family: section})
    return cfg.model_copy(update={"training": training})


# -- planning (the start step) -------------------------------------------------------------
def plan_search(
    cfg: ProjectConfig,
    families: list[str],
    split: TrainingSplit | SpilledSplit,
    run_key: str,
) -> list[str | TrialGroup]:
    """The train tasks: a family without a search is itself (fitted once, as configured);
    one with a search is its trial groups, its study created here (the configured settings
    enqueued as the first trial). Without training.search: ``families`` unchanged."""
    s = cfg.training.search
    if not any(s.family(f) for f in families):
        return list(families)
    import optuna

    storage = open_storage(cfg, create=True)
    units: list[str | TrialGroup] = []
    for f in families:
        fs = s.family(f)
        if fs is None:
            units.append(f)
            continue
        name = study_name(cfg, run_key, f)
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            direction="maximize" if cfg.higher_is_better else "minimize",
            load_if_exists=True,  # a resumed run goes on with its study
        )
        if not study.trials:
            study.enqueue_trial(configured(f, cfg))
        n = math.ceil(fs.trials / s.trials_per_task)
        sizes = [fs.trials // n + (1 if i < fs.trials % n else 0) for i in range(n)]
        units += [TrialGroup(f, i, k, name) for i, k in enumerate(sizes)]
    return units


# -- trials (one train task) ---------------------------------------------------------------
def trial_rows(
    split: TrainingSplit | SpilledSplit, cfg: ProjectConfig
) -> tuple[TrainingSplit, dict[str, Any] | None]:
    """The rows the trials fit and are valued on: the split itself in memory; rows held as
    parts: a seeded sample of at most ``training.search.sample_rows`` (else
    ``training.memory.sample_rows``) train and validation rows, and what lineage records of
    it (rows, seed)."""
    if isinstance(split, TrainingSplit):
        return split, None
    k = cfg.training.search.sample_rows or split.sample_rows
    sampled = dataclasses.replace(split, sample_rows=k)
    train, validation = sampled.sample("train"), sampled.sample("validation")
    rows = TrainingSplit(train, validation, validation.iloc[:0], split.target)
    sizes = {"train": len(train), "validation": len(validation)}
    return rows, {"max_rows": k, "seed": split.seed, "rows": sizes, "of": dict(split.rows)}


def _objective(group: TrialGroup, split: TrainingSplit, cfg: ProjectConfig) -> Any:
    import optuna

    from shared.model.families import new_model
    from shared.model.metrics import evaluate

    maximize = cfg.higher_is_better
    y, yv = split.y("train"), split.y("validation")

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, group.family, cfg)
        model: Any = new_model(group.family, tuned_config(cfg, group.family, params))

        def progress(step: int, loss: float) -> None:
            trial.report(-loss if maximize else loss, step)  # the study's direction
            if trial.should_prune():
                raise optuna.TrialPruned()

        model.progress = progress
        model.fit(split.train, y, split.validation, yv, cfg.training.seed)
        p = model.predict(split.validation)
        t = cfg.training
        return float(evaluate(cfg.task, yv, p, t.threshold, cfg.classes)[t.key_metric])

    return objective


def run_group(
    group: TrialGroup,
    split: TrainingSplit | SpilledSplit,
    cfg: ProjectConfig,
    rules: RulesConfig,
    envelope: Envelope,
    run_key: str,
) -> Candidate:
    """Run the group's trials (on the validation split, pruned by the median; rows held as
    parts: on a seeded sample of them, :func:`trial_rows`), refit its best (configured
    settings where none completed) on the whole split (parts: through external memory),
    score it on the holdout and save it."""
    import optuna

    fs = cfg.training.search.family(group.family)
    assert fs is not None
    t0 = time.perf_counter()
    sampler = optuna.samplers.TPESampler(
        seed=fs.seed + group.index, n_startup_trials=max(2, fs.trials // 3)
    )
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=5)
    study = optuna.load_study(
        study_name=group.study, storage=open_storage(cfg), sampler=sampler, pruner=pruner
    )
    before = {t.number for t in study.get_trials(deepcopy=False)}
    rows, sample = trial_rows(split, cfg)
    study.optimize(
        _objective(group, rows, cfg), n_trials=group.trials, timeout=fs.timeout_minutes * 60
    )
    del rows
    mine = [
        t
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if t.number not in before
    ]
    best = (max if cfg.higher_is_better else min)(mine, key=lambda t: t.value) if mine else None
    params = dict(best.params) if best is not None else configured(group.family, cfg)
    tuned = tuned_config(cfg, group.family, params)
    folder = f"{group.family}-search-{group.index}"
    c = train_and_save(group.family, split, tuned, rules, envelope, run_key, folder)
    c.search = {
        "study": group.study,
        "group": group.index,
        "trial": best.number if best is not None else None,
        "params": params,
        "value": best.value if best is not None else None,
        "seconds": round(time.perf_counter() - t0, 3),
        **({"sample": sample} if sample else {}),
    }
    return c


def fit_unit(
    unit: str | TrialGroup,
    split: TrainingSplit | SpilledSplit,
    cfg: ProjectConfig,
    rules: RulesConfig,
    envelope: Envelope,
    run_key: str,
) -> Candidate:
    """What one train task does: a family fitted once, or a group of its search's trials."""
    if isinstance(unit, TrialGroup):
        return run_group(unit, split, cfg, rules, envelope, run_key)
    return train_and_save(unit, split, cfg, rules, envelope, run_key)
