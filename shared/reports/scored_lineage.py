"""One batch-scored row back to where it came from: its raw file and the row in that file,
the deployment that answered it (rules + bundle), the model and the model's training data.

What `renkei lineage --batch ID --row N` prints; the scores' manifest (each part's input
rows and raw-file segments) leads from the output row to the raw file without reading it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pandas as pd

from shared.data import storage
from shared.data.manifest import PartEntry, read_manifest
from shared.ledger import DeploymentRecord, Ledger, LedgerError, Lineage, ScoringBatchRecord


@dataclass(frozen=True)
class ScoredRowLineage:
    batch: ScoringBatchRecord
    input_row: int  # the row in the whole scored batch
    answer: dict[str, Any]  # the output row: row id, prediction, decision, reasons, ...
    raw_file: str  # the landed copy of the raw file the row came from
    raw_file_row: int  # its row in that file (0 = first data row)
    part: str  # the output part file holding the answer
    deployment: DeploymentRecord
    lineage: Lineage  # the model, its training run and datasets down to their raw files


def _raw_file(batch: ScoringBatchRecord, name: str) -> str:
    """The landed copy of the batch's file ``name`` (one file: the input itself)."""
    uri = batch.input_uri
    if uri.rstrip("/").rsplit("/", 1)[-1] == name or not storage.exists(storage.join(uri, name)):
        return uri
    return storage.join(uri, name)


def _entry(parts: tuple[PartEntry, ...], input_row: int) -> PartEntry:
    for p in parts:
        if p.input_start <= input_row < p.input_stop:
            return p
    raise LedgerError(
        f"input row {input_row} is not in this batch (rows 0..{parts[-1].input_stop - 1})"
    )


def scored_row_lineage(
    ledger: Ledger, batch_id: int, row: int | None = None, row_id: str | None = None
) -> ScoredRowLineage:
    """Lineage of the answer to input row ``row`` (or the row whose id is ``row_id``) of
    scoring batch ``batch_id``; LedgerError naming what is missing."""
    if (row is None) == (row_id is None):
        raise LedgerError("give the scored row as its input row number or its row id (one)")
    b = ledger.operations.scoring_batch(batch_id)
    parts = read_manifest(b.output_uri).parts
    if not parts:
        raise LedgerError(f"scoring batch {batch_id} has no scored rows")
    answer, entry = None, None
    for p in [_entry(parts, row)] if row is not None else parts:
        frame = pd.read_parquet(io.BytesIO(storage.read_bytes(storage.join(b.output_uri, p.name))))
        hit = (
            frame[frame["input_row"] == row]
            if row is not None
            else frame[frame["row_id"].astype(str) == str(row_id)]
        )
        if not hit.empty:
            answer, entry = hit.iloc[0].to_dict(), p
            break
    if answer is None or entry is None:
        raise LedgerError(f"scoring batch {batch_id} has no answer for row id {row_id!r}")
    n = int(answer["input_row"])
    at = entry.input_start
    for src in entry.sources:
        rows = int(src["row_stop"]) - int(src["row_start"])
        if n < at + rows:
            raw_file, file_row = _raw_file(b, str(src["file"])), int(src["row_start"]) + n - at
            break
        at += rows
    else:
        raise LedgerError(f"the manifest of scoring batch {batch_id} names no raw file for row {n}")
    dep = ledger.releases.deployment(b.deployment_id)
    return ScoredRowLineage(
        b, n, answer, raw_file, file_row, entry.name, dep, ledger.registry.lineage(dep.version)
    )
