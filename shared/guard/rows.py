"""One decision per row: the guard's decisions in order, the per-row state a plan fills in
(a rank per row and reasons only where something fired), and the typed arrays it reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from shared.data.features import as_numbers

DECISIONS = ("model", "corrected", "fallback", "rejected")
_RANK = {d: k for k, d in enumerate(DECISIONS)}
_DECISION_ARRAY = np.asarray(DECISIONS, dtype=object)


class Rows:
    """Per-row decision (as a rank: rejected > fallback > corrected > model) and reasons."""

    def __init__(self, n: int) -> None:
        self.rank = np.zeros(n, dtype=np.int8)
        self.reasons: dict[int, list[str]] = {}  # only rows where something fired

    def fire(self, mask: np.ndarray, code: str, decision: str | None = None) -> None:
        if not mask.any():
            return
        if code:
            for i in np.flatnonzero(mask).tolist():
                self.reasons.setdefault(i, []).append(code)
        if decision is not None:
            self.rank[mask] = np.maximum(self.rank[mask], _RANK[decision])

    def is_(self, decision: str) -> np.ndarray:
        return self.rank == _RANK[decision]

    @property
    def decision(self) -> np.ndarray:
        return _DECISION_ARRAY[self.rank]

    def reason_text(self) -> np.ndarray:
        out = np.full(len(self.rank), "", dtype=object)
        for i, codes in self.reasons.items():
            out[i] = "; ".join(codes)
        return out


def stand_in(spec_type: str, typed: pd.Series, gaps: bool = False) -> np.ndarray:
    """Typed values with harmless stand-ins where a value was unusable (rejected rows);
    ``gaps`` (a nullable feature, or one a ``required`` rule decides on): a missing value
    stays missing (NaN for numbers and bools, None for text)."""
    if gaps:
        if spec_type in ("float", "int", "bool"):
            return as_numbers(typed)
        text = typed.astype("string")
        return text.astype(object).where(text.notna(), None).to_numpy(dtype=object)
    if spec_type in ("float", "int"):
        return typed.astype(float).fillna(0.0).to_numpy()
    if spec_type == "bool":
        return typed.fillna(False).astype(bool).to_numpy()
    return typed.astype("string").fillna("").to_numpy(dtype=object)


def records_columns(records: list[Mapping[str, Any]], names: list[str]) -> dict[str, np.ndarray]:
    """Column arrays (object dtype) of ``names`` from row dicts; a key no row has is absent."""
    out: dict[str, np.ndarray] = {}
    for name in names:
        if any(name in r for r in records):
            col = np.empty(len(records), dtype=object)
            col[:] = [r.get(name) for r in records]
            out[name] = col
    return out
