"""The gates a candidate must pass (beats the baseline, no worse slice, beats the champion, guard rate); the best passing one becomes the candidate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shared.config import ProjectConfig, RulesConfig
from shared.model.metrics import evaluate

from .candidate import Candidate, GateResult, TrainingError

if TYPE_CHECKING:  # the ledger (SQLAlchemy) is imported only by steps that open it
    from shared.guard.bundle_sign import ReleaseKeys
    from shared.ledger import Ledger


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
        reference_version=version,
        reference_score=float(metrics[m]),
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
    base.status = "baseline"
    models = [c for c in candidates if c.family != "baseline"]
    ctx = GateContext(cfg, base, champion, rules)
    gates = GATES + (BINARY_GATES if cfg.task == "binary" else [])
    for c in models:
        c.gates = [gate(c, ctx) for gate in gates]
        c.status = "passed" if c.passed else "rejected"
    passing = [c for c in models if c.passed]
    if passing:
        m = cfg.training.key_metric
        best = (max if cfg.higher_is_better else min)(passing, key=lambda c: c.metrics[m])
        best.status = "candidate"
    return candidates


def champion_metrics(
    ledger: Ledger, holdout: Any, cfg: ProjectConfig, keys: ReleaseKeys
) -> tuple[str, dict[str, float]] | None:
    """The production model's metrics on a holdout (the champion a challenger must beat):
    a frame, or an iterable of its parts (a spilled split's); its bundle verified as every
    load does (digest, release signature by ``keys``)."""
    from shared.guard.bundle import BundleError, load_deployed  # bundle imports training

    dep = ledger.releases.alias("production")
    if dep is None:
        return None
    parts = [holdout] if isinstance(holdout, pd.DataFrame) else holdout  # or its parts
    ps, ys = [], []
    try:
        model = load_deployed(dep, keys).model
        for part in parts:
            ps.append(np.asarray(model.predict(part)))
            ys.append(part[cfg.target].to_numpy(dtype=float))
    except (BundleError, ValueError, KeyError) as e:
        raise TrainingError(
            f"the production version {dep.version} cannot be scored on this holdout, so it "
            f"cannot be compared: {e}"
        ) from None
    p, y = (ps[0], ys[0]) if len(ps) == 1 else (np.concatenate(ps), np.concatenate(ys))
    return dep.version, evaluate(cfg.task, y, p, cfg.training.threshold, cfg.classes)
