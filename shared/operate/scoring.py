"""Operate: batch scoring of a raw input with a guarded bundle, partition by partition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from shared.data import storage
from shared.guard import DECISIONS, GuardedModel, decision_counts
from shared.ledger import DeploymentRecord
from shared.operate.shadow import with_shadow


@dataclass(frozen=True)
class Partition:
    index: int
    start: int
    stop: int


@dataclass(frozen=True)
class ScoredPartition:
    index: int
    uri: str
    rows: int
    decisions: dict[str, int]


def partitions(rows: int, size: int) -> list[Partition]:
    """Contiguous row ranges of at most ``size`` rows (at least one partition)."""
    size = max(1, size)
    bounds = list(range(0, rows, size)) or [0]
    return [Partition(i, b, min(b + size, rows)) for i, b in enumerate(bounds)]


def score_partition(
    guarded: GuardedModel,
    raw: pd.DataFrame,
    part: Partition,
    out_prefix: str,
    flow_run: str,
    shadow: DeploymentRecord | None = None,
) -> ScoredPartition:
    """Guarded answers for one partition, written as Parquet with the input row numbers
    (and the shadow challenger's answers beside them, when one is attached)."""
    chunk = raw.iloc[part.start : part.stop]
    out = with_shadow(guarded.predict(chunk), chunk, shadow)
    out.insert(0, "input_row", np.arange(part.start, part.stop, dtype="int64"))
    out["flow_run"] = flow_run
    uri = storage.join(out_prefix, f"part-{part.index:05d}.parquet")
    storage.write_parquet(out, uri)
    return ScoredPartition(part.index, uri, len(out), decision_counts(out))


def combine(parts: list[ScoredPartition], out_uri: str) -> tuple[int, dict[str, int]]:
    """Concatenate partition outputs (in order) into one Parquet file; total decision counts."""
    ordered = sorted(parts, key=lambda p: p.index)
    frames = [storage.read_parquet(p.uri) for p in ordered]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    storage.write_parquet(out, out_uri)
    totals = {d: sum(p.decisions.get(d, 0) for p in parts) for d in DECISIONS}
    return len(out), totals


FRESH_DAYS = 7


def fresh_batch_start(now: datetime | None = None) -> str:
    """Start of a generated scoring batch: the last full week (UTC), so every weekday is in
    it (as in training) and no timestamp is in the future."""
    now = now or datetime.now(UTC)
    return (now - timedelta(days=FRESH_DAYS + 1)).strftime("%Y-%m-%dT00:00:00")
