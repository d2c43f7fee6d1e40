"""Features -> Train -> Model test: data assembly, time split, candidates, gates, selection."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from shared.config import ProjectConfig, RulesConfig
from shared.data import storage
from shared.guard import Envelope, GuardedModel, decision_counts, intervention_rate
from shared.ledger.vocab import ModelStatus
from shared.monitor.drift import reference_profile
from shared.training.families import Baseline, FitReport, new_model
from shared.training.metrics import evaluate, slice_metrics


class TrainingError(ValueError):
    """Training cannot start or finish; the message says why."""


class ComparisonRow(pa.DataFrameModel):
    """One candidate's holdout metric overall or on one slice (the card's chart data)."""

    family: Series[str]
    slice: Series[str]
    metric: Series[str]
    value: Series[float] = pa.Field(nullable=True)


@dataclass(frozen=True)
class TrainingSplit:
    """Rows by time: the oldest for training, then validation, the newest as holdout."""

    train: pd.DataFrame
    validation: pd.DataFrame
    holdout: pd.DataFrame
    target: str

    def y(self, part: str) -> np.ndarray:
        return getattr(self, part)[self.target].to_numpy(dtype=float)

    @property
    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "validation": len(self.validation),
            "holdout": len(self.holdout),
        }


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    value: float
    threshold: float
    detail: str


@dataclass
class Candidate:
    """One trained family: holdout metrics, slices, fit report, artifact files."""

    family: str
    metrics: dict[str, float]
    slices: dict[str, dict[str, float]]
    fit: FitReport
    files: dict[str, bytes] = field(repr=False)
    gates: list[GateResult] = field(default_factory=list)
    status: str = "trained"
    artifact_uri: str | None = None
    guard: dict[str, Any] = field(default_factory=dict)  # holdout decisions under the rules

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    @property
    def failing_gates(self) -> list[str]:
        return [g.name for g in self.gates if not g.passed]


def _with_labels(
    rows: pd.DataFrame, labels: pd.DataFrame | None, cfg: ProjectConfig
) -> pd.DataFrame:
    """One dataset's rows with the labels delivered for that dataset, joined by id."""
    rows = rows.drop_duplicates(cfg.id_column, keep="last")  # ids are unique per batch
    target = cfg.target
    if labels is None or not len(labels):
        return rows
    lab = labels.drop_duplicates(cfg.id_column, keep="last")
    lab = lab[[cfg.id_column, target]].rename(columns={target: "_label"})
    rows = rows.merge(lab, on=cfg.id_column, how="left")
    if target in rows:
        rows[target] = rows[target].where(rows[target].notna(), rows["_label"])
    else:
        rows[target] = rows["_label"]
    return rows.drop(columns="_label")


def assemble(
    datasets: list[pd.DataFrame], labels: list[pd.DataFrame | None], cfg: ProjectConfig
) -> pd.DataFrame:
    """Validated rows of the chosen dataset versions, each with its own labels.

    ``labels[i]`` holds the labels delivered for ``datasets[i]`` (newest last), or is
    missing: labels are joined by id only within the batch they were delivered for, since
    ids are unique per batch, not across batches. A label inside the dataset (the target
    column) wins. Rows without any label are left out (counted by the caller).
    """
    if not datasets:
        raise TrainingError("no dataset versions to train on: run the ingest flow first")
    if len(labels) not in (0, len(datasets)):
        raise ValueError("assemble: give one labels frame (or None) per dataset, or none")
    per_batch = labels or [None] * len(datasets)
    rows = pd.concat(
        [_with_labels(d, lab, cfg) for d, lab in zip(datasets, per_batch, strict=True)],
        ignore_index=True,
    )
    target = cfg.target
    if target not in rows:
        raise TrainingError(
            f"no labels: the datasets have no {target!r} column and no label batch was recorded"
        )
    rows = rows[rows[target].notna()].reset_index(drop=True)
    if cfg.task == "binary":
        rows[target] = rows[target].astype(bool).astype(float)
    return rows


def generated_split(cfg: ProjectConfig, rows: int, seed: int, **generator: Any) -> TrainingSplit:
    """A training split made from the built-in generator, through ingest's validation:
    orders validated by the project's contract, labels joined, split by time."""
    from shared.data.contracts import build_contracts
    from shared.data.generator import generate_orders
    from shared.data.ingest import generator_settings
    from shared.data.validation import split_valid

    g = generator_settings(cfg)
    kwargs = {"start": g.start, "days": g.days, **generator}
    batch = generate_orders(rows, seed, **kwargs)
    valid = split_valid(batch.orders, build_contracts(cfg)).valid
    return split_by_time(assemble([valid], [batch.labels], cfg), cfg)


def split_by_time(rows: pd.DataFrame, cfg: ProjectConfig) -> TrainingSplit:
    s = cfg.training.split
    rows = rows.sort_values(cfg.timestamp_column, kind="stable").reset_index(drop=True)
    n = len(rows)
    n_hold, n_val = int(n * s.holdout), int(n * s.validation)
    n_train = n - n_hold - n_val
    if min(n_train, n_val, n_hold) < 20:
        raise TrainingError(
            f"only {n} labelled rows: too few to split into train/validation/holdout "
            "(need at least 20 in each); ingest more data"
        )
    return TrainingSplit(
        rows.iloc[:n_train].reset_index(drop=True),
        rows.iloc[n_train : n_train + n_val].reset_index(drop=True),
        rows.iloc[n_train + n_val :].reset_index(drop=True),
        cfg.target,
    )


def train_candidate(
    family: str,
    split: TrainingSplit,
    cfg: ProjectConfig,
    rules: RulesConfig | None = None,
    envelope: Envelope | None = None,
) -> Candidate:
    """Fit one family on train (early stopping on validation) and score it on the holdout.

    With ``rules`` and ``envelope``, also runs the guarded model over the holdout and keeps
    its decision counts (for the guard-rate gate) and the envelope (for the bundle).
    """
    model = new_model(family, cfg)
    seed = cfg.training.seed
    if family == "baseline":
        report = model.fit(split.train, split.y("train"))
    else:
        report = model.fit(
            split.train, split.y("train"), split.validation, split.y("validation"), seed
        )
    c = score_candidate(family, model, report, split, cfg)
    if rules is not None and envelope is not None:
        baseline = Baseline(cfg)
        baseline.fit(split.train, split.y("train"))
        guarded = GuardedModel(model, baseline, cfg, rules, envelope, family, rules.rules_hash())
        out = guarded.predict(split.holdout)
        c.guard = {"intervention_rate": intervention_rate(out), "decisions": decision_counts(out)}
        c.files["envelope.json"] = json.dumps(envelope.to_dict(), indent=2).encode()
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
        evaluate(cfg.task, y, p, t.threshold),
        slice_metrics(cfg.task, split.holdout, y, p, t.slices, t.threshold),
        report,
        model.to_files(),
    )


# -- gates: each a small check of a candidate against the baseline -------------------------
def _worse_by(cand: float, base: float, higher_is_better: bool) -> float:
    """How much worse ``cand`` is than ``base``, as a fraction of ``base`` (negative: better)."""
    if base == 0 or np.isnan(base) or np.isnan(cand):
        return 0.0 if cand == base else float("inf")
    return (base - cand) / abs(base) if higher_is_better else (cand - base) / abs(base)


@dataclass(frozen=True)
class GateContext:
    """What gates compare a candidate with."""

    cfg: ProjectConfig
    baseline: Candidate
    champion: tuple[str, dict[str, float]] | None = None  # production version and metrics
    rules: RulesConfig | None = None


def gate_beats_baseline(c: Candidate, ctx: GateContext) -> GateResult:
    cfg, base = ctx.cfg, ctx.baseline
    m = cfg.training.key_metric
    improvement = -_worse_by(c.metrics[m], base.metrics[m], cfg.higher_is_better)
    need = cfg.gates.min_improvement
    return GateResult(
        "beats_baseline",
        improvement >= need,
        improvement,
        need,
        f"{m} {c.metrics[m]:.4g} vs baseline {base.metrics[m]:.4g}: "
        f"{improvement:+.1%} (needs >= {need:+.1%})",
    )


def gate_slices_not_worse(c: Candidate, ctx: GateContext) -> GateResult:
    cfg, base = ctx.cfg, ctx.baseline
    m = cfg.training.key_metric
    limit = cfg.gates.max_slice_regression
    worst, worst_slice = -float("inf"), "-"
    for name, values in c.slices.items():
        if name in base.slices:
            w = _worse_by(values[m], base.slices[name][m], cfg.higher_is_better)
            if w > worst:
                worst, worst_slice = w, name
    if worst == -float("inf"):
        worst = 0.0
    return GateResult(
        "slices_not_worse",
        worst <= limit,
        worst,
        limit,
        f"worst slice {worst_slice}: {worst:+.1%} vs baseline (limit {limit:+.1%})",
    )


def gate_beats_champion(c: Candidate, ctx: GateContext) -> GateResult:
    """Challenger vs champion: beat the production version on the same holdout."""
    cfg = ctx.cfg
    m = cfg.training.key_metric
    if ctx.champion is None:
        return GateResult("beats_champion", True, 0.0, 0.0, "no production version yet")
    version, metrics = ctx.champion
    improvement = -_worse_by(c.metrics[m], metrics[m], cfg.higher_is_better)
    need = cfg.gates.min_improvement_over_champion
    return GateResult(
        "beats_champion",
        improvement >= need,
        improvement,
        need,
        f"{m} {c.metrics[m]:.4g} vs production {version} {metrics[m]:.4g}: "
        f"{improvement:+.1%} (needs >= {need:+.1%})",
    )


def gate_guard_rate(c: Candidate, ctx: GateContext) -> GateResult:
    """The guard may step in on only so many holdout rows."""
    if ctx.rules is None:
        return GateResult("guard_rate", True, 0.0, 1.0, "no guard rules given")
    limit = ctx.rules.limits.max_intervention_rate
    if "intervention_rate" not in c.guard:  # rules given, never run: not a pass
        return GateResult(
            "guard_rate",
            False,
            1.0,
            limit,
            "the guard was not run on the holdout: train with the rules and the envelope",
        )
    rate = float(c.guard["intervention_rate"])
    return GateResult(
        "guard_rate",
        rate <= limit,
        rate,
        limit,
        f"guard stepped in on {rate:.1%} of holdout rows (limit {limit:.1%}): {c.guard['decisions']}",
    )


def gate_baseline_discriminates(c: Candidate, ctx: GateContext) -> GateResult:
    """Binary tasks: beating a baseline that cannot tell the classes apart proves nothing."""
    auc = ctx.baseline.metrics.get("roc_auc", float("nan"))
    need = ctx.cfg.gates.min_baseline_auc
    ok = bool(np.isfinite(auc) and auc >= need)
    why = f"baseline {ctx.cfg.baseline.rule!r} has holdout ROC AUC {auc:.3f} (needs >= {need:.2f})"
    if not ok:
        why += (
            ": it cannot tell the classes apart, so beating it means nothing; use baseline "
            "rule 'stump' (learned from the training data) or 'threshold' on a feature that "
            "separates the classes"
        )
    return GateResult(
        "baseline_discriminates", ok, float(auc) if np.isfinite(auc) else 0.0, need, why
    )


GATES = [gate_beats_baseline, gate_slices_not_worse, gate_beats_champion, gate_guard_rate]
BINARY_GATES = [gate_baseline_discriminates]


def apply_gates(
    candidates: list[Candidate],
    cfg: ProjectConfig,
    champion: tuple[str, dict[str, float]] | None = None,
    rules: RulesConfig | None = None,
) -> list[Candidate]:
    """Run every gate on every model candidate and decide each one's status.

    ``baseline``: the reference; ``rejected``: failed a gate; ``candidate``: the best that
    passed (by the key metric); ``passed``: passed but not the best.
    """
    base = next((c for c in candidates if c.family == "baseline"), None)
    if base is None:
        raise TrainingError("the baseline family must be trained: gates compare against it")
    base.status = ModelStatus.BASELINE
    models = [c for c in candidates if c.family != "baseline"]
    ctx = GateContext(cfg, base, champion, rules)
    gates = GATES + (BINARY_GATES if cfg.task == "binary" else [])
    for c in models:
        c.gates = [gate(c, ctx) for gate in gates]
        c.status = ModelStatus.PASSED if c.passed else ModelStatus.REJECTED
    passing = [c for c in models if c.passed]
    if passing:
        m = cfg.training.key_metric
        best = (max if cfg.higher_is_better else min)(passing, key=lambda c: c.metrics[m])
        best.status = ModelStatus.CANDIDATE
    return candidates


def comparison_frame(candidates: list[Candidate], cfg: ProjectConfig) -> pd.DataFrame:
    """Long table of the key metric per family, overall and per slice (the card's chart)."""
    m = cfg.training.key_metric
    rows = []
    for c in candidates:
        rows.append({"family": c.family, "slice": "all", "metric": m, "value": c.metrics[m]})
        for name, values in c.slices.items():
            rows.append({"family": c.family, "slice": name, "metric": m, "value": values[m]})
    return ComparisonRow.validate(pd.DataFrame(rows))


def save_artifacts(c: Candidate, root: str, run_key: str) -> str:
    """Write a candidate's files under ``<data_root>/models/<run>/<family>/``; return the dir."""
    prefix = storage.join(root, "models", run_key.replace("/", "-"), c.family)
    for name, data in c.files.items():
        storage.write_bytes(storage.join(prefix, name), data)
    return prefix


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
    split: TrainingSplit,
    cfg: ProjectConfig,
    rules: RulesConfig,
    envelope: Envelope,
    run_key: str,
) -> Candidate:
    """Fit, score and store one family's artifact (what a training task does)."""
    c = train_candidate(family, split, cfg, rules, envelope)
    c.artifact_uri = save_artifacts(c, cfg.storage.data_root, run_key)
    return c


def load_artifacts(prefix: str, names: list[str]) -> dict[str, bytes]:
    return {n: storage.read_bytes(storage.join(prefix, n)) for n in names}


@dataclass(frozen=True)
class TrainingInput:
    """The dataset versions chosen, their labelled rows and how many rows had no label."""

    dataset_versions: list[str]
    rows: pd.DataFrame
    unlabelled: int


def load_training_input(ledger: Any, cfg: ProjectConfig, versions: list[str]) -> TrainingInput:
    """Read the chosen dataset versions (default: the newest), each joined with the labels
    recorded for it."""
    known = ledger.datasets.all()
    if not known:
        raise TrainingError("the ledger has no datasets: run python flows/ingest_flow.py run first")
    if not versions:
        versions = [known[0].version]
    by_version = {d.version: d for d in known}
    missing = [v for v in versions if v not in by_version]
    if missing:
        raise TrainingError(f"unknown dataset version(s): {', '.join(missing)}")
    versions = list(dict.fromkeys(versions))
    frames = [storage.read_parquet(by_version[v].location) for v in versions]
    batches = ledger.datasets.label_batches()
    labels = [  # only the labels delivered for each dataset version (a retrain of an old
        # dataset never sees labels of a later batch that happens to reuse its ids)
        pd.concat(
            [storage.read_parquet(b.uri) for b in batches if b.dataset_version == v]
            or [pd.DataFrame()],
            ignore_index=True,
        )
        for v in versions
    ]
    total = sum(len(f) for f in frames)
    rows = assemble(frames, labels, cfg)
    return TrainingInput(versions, rows, total - len(rows))


def registration(c: Candidate, base: Candidate, cfg: ProjectConfig, task: str | None) -> Any:
    """The ledger record of one trained family."""
    from shared.ledger import ModelRegistration

    return ModelRegistration(
        family=c.family,
        status=c.status,
        key_metric=cfg.training.key_metric,
        metrics=c.metrics,
        slice_metrics=c.slices,
        gate_results=[vars(g) for g in c.gates],
        baseline_metrics=base.metrics,
        artifact_uri=c.artifact_uri or "",
        resources={
            "device": c.fit.device,
            "fit_seconds": round(c.fit.seconds, 3),
            "iterations": c.fit.iterations,
            "guard": c.guard,
        },
        task_pathspec=task,
    )
