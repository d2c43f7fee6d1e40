"""Operate: batch scoring of a raw input with a guarded bundle, partition by partition: each
task reads only its partition and writes one part; the join writes the manifest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from shared.data import storage
from shared.data.manifest import Manifest, PartEntry, part_name, write_manifest, write_part
from shared.data.partitions import Partition, read_partition
from shared.guard import DECISIONS, GuardedModel, decision_counts
from shared.guard.bundle import load_deployed
from shared.ledger import DeploymentRecord

SHADOW_COLUMNS = [
    "shadow_version",
    "shadow_prediction",
    "shadow_predicted_class",
    "shadow_decision",
    "shadow_reasons",
]


@lru_cache(maxsize=4)
def _loaded(dep: DeploymentRecord) -> GuardedModel:
    return load_deployed(dep)


def with_shadow(
    out: pd.DataFrame, raw: pd.DataFrame, shadow: DeploymentRecord | None
) -> pd.DataFrame:
    """``out`` (production's guarded answers for ``raw``) with the shadow's beside them."""
    if shadow is None:
        return out
    s = _loaded(shadow).predict(raw).reset_index(drop=True)
    extra = pd.DataFrame(
        {
            "shadow_version": s["model_version"],
            "shadow_prediction": s["prediction"],
            "shadow_predicted_class": s["predicted_class"] if "predicted_class" in s else None,
            "shadow_decision": s["decision"],
            "shadow_reasons": s["reasons"],
        }
    )
    extra.index = out.index
    return pd.concat([out, extra], axis=1)


@dataclass(frozen=True)
class ScoredPartition:
    index: int
    uri: str
    rows: int
    decisions: dict[str, int]
    sha256: str = ""
    input_start: int = 0
    input_stop: int = 0
    sources: tuple[dict[str, Any], ...] = ()


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


def finish_scoring(parts: list[ScoredPartition], out_prefix: str) -> tuple[int, dict[str, int]]:
    """The output's manifest (every part in order with its rows, hash, input rows and raw
    files) and the total decision counts; no rows are read."""
    ordered = sorted(parts, key=lambda p: p.index)
    totals = {d: sum(p.decisions.get(d, 0) for p in parts) for d in DECISIONS}
    entries = tuple(
        PartEntry(
            part_name(p.index),
            p.rows,
            p.sha256,
            p.input_start,
            p.input_stop,
            dict(p.decisions),
            list(p.sources),
        )
        for p in ordered
    )
    write_manifest(out_prefix, Manifest("scores", entries, "", totals))
    return sum(p.rows for p in ordered), totals


FRESH_DAYS = 7


def fresh_batch_start(now: datetime | None = None) -> str:
    """Start of a generated scoring batch: the last full week (UTC), so every weekday is in
    it (as in training) and no timestamp is in the future."""
    now = now or datetime.now(UTC)
    return (now - timedelta(days=FRESH_DAYS + 1)).strftime("%Y-%m-%dT00:00:00")
