"""What each scoring task wrote (ScoredPartition) and the output's manifest the score flow's
join writes from them (finish_scoring).

Plain records and JSON: the join loads no model, guard or frame library to read its
inputs' parts back and write the manifest (bench/profile_tasks.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.data.manifest import Manifest, PartEntry, part_name, write_manifest


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


def finish_scoring(parts: list[ScoredPartition], out_prefix: str) -> tuple[int, dict[str, int]]:
    """The output's manifest (every part in order with its rows, hash, input rows and raw
    files) and the total decision counts, by decision in the guard's order (every part counts
    every decision: ``shared.guard.decision_counts``); no rows are read."""
    ordered = sorted(parts, key=lambda p: p.index)
    names = dict.fromkeys(d for p in ordered for d in p.decisions)
    totals = {d: sum(p.decisions.get(d, 0) for p in parts) for d in names}
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
