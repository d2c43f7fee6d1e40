"""The train flow's steps: start (data, split, envelope, champion, CPU families), one
family per training task, then the gates and the registration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.config import ProjectConfig, RulesConfig
from shared.data.provenance import CodeVersion
from shared.training.artifacts import registration
from shared.training.candidate import Candidate
from shared.training.gates import apply_gates

if TYPE_CHECKING:  # the ledger (SQLAlchemy) is imported only where a step opens it
    from shared.guard.bundle_sign import ReleaseKeys
    from shared.ledger import Ledger, ModelVersionRecord

__all__ = ["Registered", "register", "train"]


@dataclass
class Registered:
    """Every family after its gates, and the ledger's versions of them (at most one
    ``candidate``)."""

    candidates: list[Candidate]
    versions: list[ModelVersionRecord]


def register(
    ledger: Ledger,
    cfg: ProjectConfig,
    rules: RulesConfig,
    fitted: list[Candidate],
    champion: tuple[str, dict[str, float]] | None,
    datasets: list[str],
    run_key: str,
    flow_run: str,
    actor: str,
    code: CodeVersion,
    tasks: dict[str, str] | None = None,
) -> Registered:
    """Gate every fitted family against the baseline and ``champion`` (its holdout
    metrics), in the configured order, and register all of them as trained on
    ``datasets``. ``tasks``: the Metaflow task that fitted each family (lineage)."""
    by_family = {c.family: c for c in fitted}
    candidates = apply_gates([by_family[f] for f in cfg.training.families], cfg, champion, rules)
    base = next(c for c in candidates if c.family == "baseline")
    versions = ledger.registry.register(
        run_key,
        flow_run,
        [registration(c, base, cfg, (tasks or {}).get(c.family)) for c in candidates],
        datasets,
        actor,
        code.commit,
        code.dirty,
        cfg.config_hash(),
    )
    return Registered(candidates, versions)


def train(
    ledger: Ledger,
    cfg: ProjectConfig,
    rules: RulesConfig,
    datasets: str,
    run_key: str,
    actor: str,
    code: CodeVersion,
    *,
    keys: ReleaseKeys,
) -> Registered:
    """The train flow's steps in this process (library callers, tests' builders);
    ``datasets``: comma-separated versions (empty: the newest); ``keys``: the release keys
    the champion's bundle is verified with."""
    from shared.training.search import fit_unit, plan_search
    from shared.training.start import start_training
    from shared.training.study import choose

    s = start_training(ledger, cfg, rules, datasets, run_key, keys=keys)
    units = plan_search(cfg, s.gpu_families, s.split, run_key)
    fitted = [fit_unit(u, s.split, cfg, rules, s.envelope, run_key) for u in units]
    chosen, _ = choose([(c, None) for c in [*s.cpu_candidates, *fitted]], cfg)
    datasets_used = s.training_input.dataset_versions
    return register(
        ledger,
        cfg,
        rules,
        chosen,
        s.champion,
        datasets_used,
        run_key,
        run_key,
        actor,
        code,
    )
