"""The score flow's steps: plan a batch against a deployment, score its partitions, record
the batch with its lineage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.config import ProjectConfig
from shared.config.flow_error import RenkeiFlowError
from shared.operate.scored import ScoredPartition, finish_scoring

if TYPE_CHECKING:  # what the join does not load: the ledger, the data layer, the guard
    from shared.data.landed import LandedRaw
    from shared.data.partitions import Partition
    from shared.guard.bundle_sign import ReleaseKeys
    from shared.ledger import DeploymentRecord, Ledger, ScoringBatchRecord

# The plan and the whole run import the data layer, the guard and the release's shadow
# inside the functions: the join (record) reads only plain records (bench/profile_tasks.py).
__all__ = ["ScoringPlan", "plan", "record", "score"]


@dataclass
class ScoringPlan:
    """What a scoring batch answers with (the alias's deployment, a shadow beside it), its
    landed input, the input's partitions (no rows loaded) and where the output goes."""

    deployment: DeploymentRecord
    shadow: DeploymentRecord | None
    raw: LandedRaw
    parts: list[Partition]
    out_prefix: str
    # adaptive intervals: the factor on the calibrated quantile the batch answers with
    # (the alias's newest interval update when planned; shared.operate.adapt)
    interval_factor: float = 1.0


def plan(
    ledger: Ledger,
    cfg: ProjectConfig,
    key: str,
    alias: str = "production",
    source: str = "",
    rows: int = 5000,
    seed: int = 101,
    bad_fraction: float = 0.02,
    drift: float = 0.0,
    partition_rows: int = 0,
    *,
    keys: ReleaseKeys,
) -> ScoringPlan:
    """Find ``alias``'s deployment (its bundle verified: digest, and release signature by
    ``keys``), land ``source`` (empty: a fresh generated batch) and plan partitions of
    ``partition_rows`` (0: the project's); the output goes under scores/``key``."""
    from shared.data import storage
    from shared.data.ingest import generate_raw, generator_settings, land_raw
    from shared.data.partitions import plan_batch
    from shared.guard.bundle import load_deployed
    from shared.operate.adapt import answered_with
    from shared.operate.scoring import FRESH_DAYS, fresh_batch_start
    from shared.release.shadow import shadow_of

    root = cfg.storage.data_root
    if not source:
        generator_settings(cfg)  # the built-in use case only: others need --source
    deployment = ledger.releases.alias(alias)
    if deployment is None:
        raise RenkeiFlowError(
            f"no model serves '{alias}': promote one first "
            "(renkei promote VERSION --to production --as USER)"
        )
    load_deployed(deployment, keys)  # refuse a swapped, altered or unsigned bundle first
    if not source:
        start = fresh_batch_start()
        source = generate_raw(
            cfg, root, rows, seed, bad_fraction, drift, start=start, days=FRESH_DAYS, prefix="score"
        )[0]
    raw = land_raw(source, root)
    parts = plan_batch(raw, partition_rows or cfg.storage.partition_rows)
    out = storage.join(root, "scores", key)
    factor = answered_with(ledger, cfg, alias, deployment)
    return ScoringPlan(deployment, shadow_of(ledger, alias), raw, parts, out, factor)


def record(
    ledger: Ledger,
    raw: LandedRaw,
    deployment: DeploymentRecord,
    out_prefix: str,
    scored: list[ScoredPartition],
    flow_run: str,
    actor: str,
) -> ScoringBatchRecord:
    """Write the output's manifest and record the scoring batch with its lineage (input,
    deployment, output, decision counts); no rows are read."""
    rows, counts = finish_scoring(scored, out_prefix)
    return ledger.operations.record_scoring_batch(
        flow_run, raw.source, raw.uri, raw.sha256, deployment.id, out_prefix, rows, counts, actor
    )


def score(
    ledger: Ledger,
    cfg: ProjectConfig,
    flow_run: str,
    actor: str,
    source: str,
    partition_rows: int = 0,
    alias: str = "production",
    *,
    keys: ReleaseKeys,
) -> ScoringBatchRecord:
    """The score flow's steps in this process (library callers, tests' builders): every
    partition of ``source`` answered by ``alias`` (and its shadow, if one is attached), each
    bundle verified with the release ``keys``."""
    from shared.guard.bundle import load_deployed
    from shared.operate.adapt import with_factor
    from shared.operate.scoring import score_partition

    key = flow_run.replace("/", "-")
    p = plan(ledger, cfg, key, alias, source, partition_rows=partition_rows, keys=keys)
    guarded = with_factor(load_deployed(p.deployment, keys), p.interval_factor)
    scored = [
        score_partition(guarded, part, p.out_prefix, flow_run, p.shadow, keys) for part in p.parts
    ]
    return record(ledger, p.raw, p.deployment, p.out_prefix, scored, flow_run, actor)
