"""Scored answers with their explanations, computed on demand (``renkei scores --explain``,
the app's Guard page): a few answers of a scoring batch, the raw rows they answered (found
through the scores' manifest, as lineage finds them) and the deployment's bundle
(verified against the ledger) explaining each one (shared.guard.explain). Nothing is
stored: the same batch and bundle give the same explanations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from shared.data import storage
from shared.data.manifest import read_manifest
from shared.data.rawread import read_raw
from shared.guard.bundle import load_deployed
from shared.guard.bundle_sign import ReleaseKeys
from shared.guard.explain import explain_frame
from shared.ledger import Ledger, LedgerError, ScoringBatchRecord
from shared.reports.scored_lineage import _entry, _raw_file

ANSWER_COLUMNS = ["row_id", "prediction", "predicted_class", "decision", "reasons"]


@dataclass(frozen=True)
class ExplainedScores:
    batch: ScoringBatchRecord | None
    answers: pd.DataFrame  # row_id, prediction, (predicted_class), decision, reasons
    explanations: list[dict[str, Any] | None]  # one per answer; None: rejected

    def records(self) -> list[dict[str, Any]]:
        """Each answer as a dict with its ``explanation`` (what --json prints)."""
        rows = self.answers.astype(object).where(self.answers.notna(), None).to_dict("records")
        return [{**r, "explanation": e} for r, e in zip(rows, self.explanations, strict=True)]


def explained_scores(
    ledger: Ledger,
    keys: ReleaseKeys,
    rows: int = 10,
    batch: int | None = None,
    rejected: bool = False,
) -> ExplainedScores:
    """The first ``rows`` answers of scoring batch ``batch`` (default: the newest; rejected
    ones left out unless ``rejected``), each with its explanation; the deployment's bundle
    verified as every load does (digest, release signature by ``keys``)."""
    batches = [b for b in ledger.operations.scoring_batches() if batch in (None, b.id)]
    if not batches:
        if batch is not None:
            raise LedgerError(f"no scoring batch {batch}: renkei scores lists the newest")
        return ExplainedScores(None, pd.DataFrame(columns=ANSWER_COLUMNS), [])
    b = batches[-1]
    out = storage.read_parquet(b.output_uri)
    if not rejected:
        out = out[out["decision"] != "rejected"]
    out = out.head(rows).reset_index(drop=True)
    guarded = load_deployed(ledger.releases.deployment(b.deployment_id), keys)
    raw = raw_rows(b, out["input_row"].astype(int).tolist())
    cols = [c for c in ANSWER_COLUMNS if c in out]
    return ExplainedScores(b, out[cols], explain_frame(guarded, raw, out))


def raw_rows(b: ScoringBatchRecord, input_rows: list[int]) -> pd.DataFrame:
    """The raw input rows ``input_rows`` of scoring batch ``b``, in that order (each raw
    file read once)."""
    parts = read_manifest(b.output_uri).parts
    where: list[tuple[str, int]] = []
    for n in input_rows:
        entry, at = _entry(parts, n), None
        at = entry.input_start
        for src in entry.sources:
            count = int(src["row_stop"]) - int(src["row_start"])
            if n < at + count:
                where.append((_raw_file(b, str(src["file"])), int(src["row_start"]) + n - at))
                break
            at += count
        else:
            raise LedgerError(f"the manifest of scoring batch {b.id} names no raw file for row {n}")
    files: dict[str, pd.DataFrame] = {}
    for uri, _ in where:
        if uri not in files:
            fmt = "parquet" if uri.endswith((".parquet", ".pq")) else "csv"
            files[uri] = read_raw(storage.read_bytes(uri), uri, fmt)
    picked = [files[uri].iloc[[row]] for uri, row in where]
    if not picked:
        return pd.DataFrame()
    return pd.concat(picked, ignore_index=True)
