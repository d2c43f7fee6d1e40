"""Operate: batch scoring of a raw input with a guarded bundle, partition by partition: each
task reads only its partition and writes one part; the join writes the manifest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from shared.data import storage
from shared.data.ingest import LandedRaw
from shared.data.manifest import part_name, write_part
from shared.data.partitions import Partition, plan_batch, read_partition
from shared.guard import GuardedModel, decision_counts
from shared.ledger import DeploymentRecord
from shared.operate.scored import ScoredPartition, finish_scoring
from shared.operate.shadow import with_shadow


def score_partition(
    guarded: GuardedModel,
    part: Partition,
    out_prefix: str,
    flow_run: str,
    shadow: DeploymentRecord | None = None,
) -> ScoredPartition:
    """Guarded answers for one partition, reading only its rows from storage; written as one
    part file (fixed name, atomic) with the input row numbers (rows of the whole batch) and
    the shadow challenger's answers beside them, when one is attached."""
    chunk = read_partition(part)
    out = with_shadow(guarded.predict(chunk), chunk, shadow)
    out.insert(0, "input_row", np.arange(part.start, part.stop, dtype="int64"))
    out["flow_run"] = flow_run
    uri = storage.join(out_prefix, part_name(part.index))
    rows, sha = write_part(out, uri)
    sources = tuple(
        {"file": s.file, "row_start": s.row_start, "row_stop": s.row_stop} for s in part.segments
    )
    return ScoredPartition(
        part.index, uri, rows, decision_counts(out), sha, part.start, part.stop, sources
    )


def score_in_process(
    guarded: GuardedModel,
    raw: LandedRaw,
    size: int,
    out_prefix: str,
    flow_run: str,
    shadow: DeploymentRecord | None = None,
) -> tuple[int, dict[str, int]]:
    """The score flow's steps in one process (library callers, tests): plan, score each
    partition, write the manifest; the rows and the total decision counts."""
    parts = [
        score_partition(guarded, p, out_prefix, flow_run, shadow) for p in plan_batch(raw, size)
    ]
    return finish_scoring(parts, out_prefix)


FRESH_DAYS = 7


def fresh_batch_start(now: datetime | None = None) -> str:
    """Start of a generated scoring batch: the last full week (UTC), so every weekday is in
    it (as in training) and no timestamp is in the future."""
    now = now or datetime.now(UTC)
    return (now - timedelta(days=FRESH_DAYS + 1)).strftime("%Y-%m-%dT00:00:00")
