"""Ingest partition by partition: validate each part on its own, then join them.

``validate_part`` reads only its partition's rows, splits them like a whole batch would
(valid rows, quarantined rows with reasons), and stages its outputs: the valid part, the
quarantine part, the reasons, the per-row content hashes and its ids bucketed by hash.
``finish_ingest`` (the join) quarantines ids repeated across partitions bucket by bucket
(:mod:`shared.data.duplicates`), computes the dataset version from the parts' row hashes in
input order, publishes parts and manifests, and sums the counts (rows in = valid +
quarantined, per part and in total). No step holds more than one partition's rows.

The dataset version is the sha256 of the schema, the column types and every valid row's
content hash in input order, streamed part by part: it depends on the rows only, not on how
they were split into files or partitions, and equals the version a whole-batch ingest gives.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from shared.config import ProjectConfig
from shared.data import storage
from shared.data.contracts import SCHEMA_VERSION, build_contracts
from shared.data.duplicates import cross_part_duplicates, write_ids
from shared.data.ingest import IngestOutcome, LandedRaw
from shared.data.manifest import Manifest, PartEntry, has_manifest, part_name, write_manifest
from shared.data.partitions import Partition, plan_batch, read_partition
from shared.data.quarantine import quarantine_frame
from shared.data.validation import CheckCount, RawInputError, SplitResult, split_valid


@dataclass(frozen=True)
class PartOutcome:
    """What one partition's validation staged (uris under the staging prefix) and counted."""

    index: int
    start: int
    stop: int
    rows_valid: int
    rows_quarantined: int
    dtypes: str
    valid_uri: str
    quarantine_uri: str
    reasons_uri: str
    hashes_uri: str
    ids_uri: str
    id_groups: dict[int, int]  # id bucket -> row group of ids_uri
    extra_columns: tuple[str, ...] = ()
    sources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        return self.stop - self.start


def staging_prefix(data_root: str, key: str | None = None) -> str:
    """Where one ingest run stages its parts (``key``: the flow run id; unique otherwise)."""
    return storage.join(data_root, "datasets", "_staging", key or uuid.uuid4().hex)


def _sources(part: Partition) -> list[dict[str, Any]]:
    return [
        {"file": s.file, "row_start": s.row_start, "row_stop": s.row_stop} for s in part.segments
    ]


def _dtypes(valid: pd.DataFrame) -> str:
    return ",".join(f"{c}:{t}" for c, t in valid.dtypes.astype(str).items())


def _row_hashes(valid: pd.DataFrame) -> bytes:
    return pd.util.hash_pandas_object(valid, index=False).to_numpy().tobytes()


def _stage(
    part: Partition,
    staging: str,
    valid: pd.DataFrame,
    quarantined: pd.DataFrame,
    reasons: pd.DataFrame,
    suffix: str = "",
) -> dict[str, str]:
    name = f"{part.name}{suffix}"
    uris = {
        k: storage.join(staging, k, f"{name}.{ext}")
        for k, ext in (("valid", "parquet"), ("quarantine", "parquet"), ("reasons", "parquet"))
    }
    uris["hashes"] = storage.join(staging, "hashes", f"{name}.bin")
    storage.write_parquet(valid, uris["valid"])
    storage.write_parquet(quarantined, uris["quarantine"])
    storage.write_parquet(reasons, uris["reasons"])
    storage.write_bytes(uris["hashes"], _row_hashes(valid))
    return uris


def validate_part(
    part: Partition,
    cfg: ProjectConfig,
    staging: str,
    buckets: int,
    now: datetime | None = None,
) -> PartOutcome:
    """Validate one partition (reading only its rows) and stage what it produced."""
    raw = read_partition(part)
    try:
        split = split_valid(raw, build_contracts(cfg, now))
    except RawInputError as e:
        files = ", ".join(dict.fromkeys(s.named for s in part.segments))
        raise RawInputError(f"{files}: {e}") from None
    bad = split.quarantined["_row"].to_numpy()
    quarantined = split.quarantined.assign(_row=bad + part.start)
    reasons = split.reasons.assign(row=split.reasons["row"].to_numpy() + part.start)
    uris = _stage(part, staging, split.valid, quarantined, reasons)
    ids_uri = storage.join(staging, "ids", f"{part.name}.parquet")
    groups = write_ids(raw[cfg.id_column], bad, part.start, buckets, ids_uri)
    return PartOutcome(
        index=part.index,
        start=part.start,
        stop=part.stop,
        rows_valid=split.rows_valid,
        rows_quarantined=split.rows_quarantined,
        dtypes=_dtypes(split.valid),
        valid_uri=uris["valid"],
        quarantine_uri=uris["quarantine"],
        reasons_uri=uris["reasons"],
        hashes_uri=uris["hashes"],
        ids_uri=ids_uri,
        id_groups=groups,
        extra_columns=tuple(split.extra_columns),
        sources=_sources(part),
    )


def _requarantine(
    out: PartOutcome, part: Partition, moved: pd.DataFrame, id_column: str, staging: str
) -> PartOutcome:
    """Move valid rows whose id an earlier partition already has to this part's quarantine."""
    valid = storage.read_parquet(out.valid_uri)
    keep = np.ones(len(valid), dtype=bool)
    keep[moved["valid_pos"].to_numpy()] = False
    raw = read_partition(part)  # the rows as they came, for the quarantine
    local = np.sort(moved["row"].to_numpy() - part.start)
    why = pd.DataFrame(
        {
            "row": local.astype("int64"),
            "column": id_column,
            "check": "unique",
            "value": raw[id_column].iloc[local].astype(str).to_numpy(),
        }
    )
    mask = np.zeros(len(raw), dtype=bool)
    mask[local] = True
    q = quarantine_frame(raw, why, mask)
    q["_row"] = q["_row"] + part.start
    quarantined = pd.concat([storage.read_parquet(out.quarantine_uri), q], ignore_index=True)
    quarantined = quarantined.sort_values("_row", kind="stable").reset_index(drop=True)
    reasons = pd.concat(
        [storage.read_parquet(out.reasons_uri), why.assign(row=why["row"] + part.start)],
        ignore_index=True,
    ).sort_values(["row", "column", "check"], kind="stable", ignore_index=True)
    valid = valid[keep].reset_index(drop=True)
    uris = _stage(part, staging, valid, quarantined, reasons, suffix=".dedup")
    return replace(
        out,
        rows_valid=len(valid),
        rows_quarantined=len(quarantined),
        valid_uri=uris["valid"],
        quarantine_uri=uris["quarantine"],
        reasons_uri=uris["reasons"],
        hashes_uri=uris["hashes"],
    )


def _version(outs: list[PartOutcome]) -> str:
    kinds = {o.dtypes for o in outs}
    if len(kinds) != 1:
        raise RawInputError(f"partitions disagree on column types ({' | '.join(sorted(kinds))})")
    h = hashlib.sha256()
    h.update(SCHEMA_VERSION.encode())
    h.update(kinds.pop().encode())
    for o in outs:  # in input order; one part's hashes in memory at a time
        h.update(storage.read_bytes(o.hashes_uri))
    return "ds-" + h.hexdigest()[:16]


def _publish(kind: str, prefix: str, outs: list[PartOutcome], version: str) -> None:
    entries = []
    for o in outs:
        uri = o.valid_uri if kind == "dataset" else o.quarantine_uri
        data = storage.read_bytes(uri)
        storage.write_bytes(storage.join(prefix, part_name(o.index)), data)
        rows = o.rows_valid if kind == "dataset" else o.rows_quarantined
        counts = {"rows_in": o.rows_in, "rows_valid": o.rows_valid}
        counts["rows_quarantined"] = o.rows_quarantined
        entries.append(
            PartEntry(
                part_name(o.index),
                rows,
                hashlib.sha256(data).hexdigest(),
                o.start,
                o.stop,
                counts,
                o.sources,
            )
        )
    totals = {k: sum(e.counts[k] for e in entries) for k in entries[0].counts}
    write_manifest(prefix, Manifest(kind, tuple(entries), version, totals))


def finish_ingest(
    raw: LandedRaw,
    parts: list[Partition],
    outs: list[PartOutcome],
    cfg: ProjectConfig,
    data_root: str,
    staging: str,
) -> tuple[IngestOutcome, pd.DataFrame]:
    """Join the partitions: cross-partition duplicate ids, version, publish, counts."""
    outs = sorted(outs, key=lambda o: o.index)
    by_index = {p.index: p for p in parts}
    moves = cross_part_duplicates([(o.index, o.ids_uri, o.id_groups) for o in outs], len(parts))
    outs = [
        _requarantine(o, by_index[o.index], moves[o.index], cfg.id_column, staging)
        if o.index in moves
        else o
        for o in outs
    ]
    for o in outs:
        if o.rows_valid + o.rows_quarantined != o.rows_in:
            raise RawInputError(f"partition {o.index}: rows in != valid + quarantined (a bug)")
    version = _version(outs)
    dataset_uri = storage.join(data_root, "datasets", version)
    legacy = storage.join(dataset_uri, "data.parquet")  # written before partitioned storage
    if storage.exists(legacy):
        dataset_uri = legacy
    elif not has_manifest(dataset_uri):
        _publish("dataset", dataset_uri, outs, version)
    quarantine_uri = storage.join(data_root, "quarantine", version, raw.sha256[:16])
    _publish("quarantine", quarantine_uri, outs, version)
    reasons = pd.concat([storage.read_parquet(o.reasons_uri) for o in outs], ignore_index=True)
    rows_in = sum(o.rows_in for o in outs)
    rows_valid = sum(o.rows_valid for o in outs)
    counts = SplitResult(pd.DataFrame(), pd.DataFrame(), reasons, rows_in).check_counts()
    extra = tuple(dict.fromkeys(c for o in outs for c in o.extra_columns))
    outcome = IngestOutcome(
        dataset_version=version,
        rows_in=rows_in,
        rows_valid=rows_valid,
        rows_quarantined=sum(o.rows_quarantined for o in outs),
        valid_fraction=rows_valid / rows_in if rows_in else 0.0,
        min_valid_fraction=cfg.validation.min_valid_fraction,
        dataset_uri=dataset_uri,
        quarantine_uri=quarantine_uri,
        raw=raw,
        check_counts=tuple(CheckCount(c.column, c.check, c.rows) for c in counts),
        extra_columns=extra,
    )
    return outcome, reasons


def validate_batch(
    raw: LandedRaw,
    cfg: ProjectConfig,
    data_root: str,
    now: datetime | None = None,
    partition_rows: int | None = None,
) -> tuple[IngestOutcome, SplitResult]:
    """Validate a landed batch in this process, partition by partition: the ingest flow's
    steps (library callers, small batches); store the dataset and its quarantine."""
    parts = plan_batch(raw, partition_rows or cfg.storage.partition_rows)
    staging = staging_prefix(data_root)
    try:
        outs = [validate_part(p, cfg, staging, len(parts), now) for p in parts]
        outcome, reasons = finish_ingest(raw, parts, outs, cfg, data_root, staging)
    finally:
        storage.remove_prefix(staging)
    split = SplitResult(
        storage.read_parquet(outcome.dataset_uri),
        storage.read_parquet(outcome.quarantine_uri),
        reasons,
        outcome.rows_in,
        list(outcome.extra_columns),
    )
    return outcome, split
