"""Operate: batch scoring of a raw input with a guarded bundle, partition by partition: each
task reads only its partition and writes one part; the join writes the manifest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

from shared.data import storage
from shared.data.manifest import part_name, write_part
from shared.data.partitions import Partition, read_partition
from shared.guard import GuardedModel, decision_counts
from shared.guard.bundle import BundleError, load_deployed
from shared.guard.bundle_sign import ReleaseKeys
from shared.ledger import DeploymentRecord
from shared.operate.scored import ScoredPartition, finish_scoring

__all__ = [
    "FRESH_DAYS",
    "SHADOW_COLUMNS",
    "ScoredPartition",  # defined in shared.operate.scored (old pickles name this module)
    "finish_scoring",
    "fresh_batch_start",
    "score_partition",
    "with_shadow",
]

SHADOW_COLUMNS = [
    "shadow_version",
    "shadow_prediction",
    "shadow_predicted_class",
    "shadow_decision",
    "shadow_reasons",
]


@lru_cache(maxsize=4)
def _loaded(dep: DeploymentRecord, keys: ReleaseKeys) -> GuardedModel:
    return load_deployed(dep, keys)


def with_shadow(
    out: pd.DataFrame,
    raw: pd.DataFrame,
    shadow: DeploymentRecord | None,
    keys: ReleaseKeys | None = None,
) -> pd.DataFrame:
    """``out`` (production's guarded answers for ``raw``) with the shadow's beside them
    (its bundle verified: digest, and signature by a release key in ``keys``)."""
    if shadow is None:
        return out
    if keys is None:
        raise BundleError(f"the shadow {shadow.version} needs the release keys to verify it")
    s = _loaded(shadow, keys).predict(raw).reset_index(drop=True)
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


def score_partition(
    guarded: GuardedModel,
    part: Partition,
    out_prefix: str,
    flow_run: str,
    shadow: DeploymentRecord | None = None,
    keys: ReleaseKeys | None = None,
) -> ScoredPartition:
    """Guarded answers for one partition, reading only its rows from storage; written as one
    part file (fixed name, atomic) with the input row numbers (rows of the whole batch) and
    the shadow challenger's answers beside them, when one is attached (verified with
    ``keys``)."""
    chunk = read_partition(part)
    out = with_shadow(guarded.predict(chunk), chunk, shadow, keys)
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


FRESH_DAYS = 7


def fresh_batch_start(now: datetime | None = None) -> str:
    """Start of a generated scoring batch: the last full week (UTC), so every weekday is in
    it (as in training) and no timestamp is in the future."""
    now = now or datetime.now(UTC)
    return (now - timedelta(days=FRESH_DAYS + 1)).strftime("%Y-%m-%dT00:00:00")
