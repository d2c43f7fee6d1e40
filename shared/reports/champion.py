"""Production's score beside a candidate, on the candidate's own holdout (as its gate measured).

Production's score on its own, older holdout says nothing about the candidate: the only
fair number is the one the ``beats_champion`` gate computed when it scored the production
version on the candidate's holdout. Where there is none, the reason is said instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.ledger import ModelVersionRecord

# ledgers written before the gate kept the score as a number: its detail line holds it
_DETAIL = re.compile(r"vs production (v\d+) ([-+0-9.eE]+|nan|inf):")


@dataclass(frozen=True)
class ChampionOnHoldout:
    """The production version a candidate was gated against and its key metric on the
    candidate's holdout; ``score`` None: ``note`` says why there is no number."""

    version: str | None
    score: float | None
    note: str = ""

    def label(self) -> str:
        """The heading a page puts over the number."""
        return f"production {self.version} on this holdout" if self.version else "production"

    def text(self, digits: int = 3) -> str:
        """The number, or the words that replace it."""
        return f"{self.score:.{digits}f}" if self.score is not None else self.note


def champion_on_holdout(m: ModelVersionRecord) -> ChampionOnHoldout | None:
    """Production's score on ``m``'s holdout, from its beats_champion gate (None: ``m`` was
    not gated, e.g. the baseline)."""
    gate = next((g for g in m.gate_results if g.get("name") == "beats_champion"), None)
    if gate is None:
        return None
    if gate.get("reference_score") is not None:
        return ChampionOnHoldout(gate.get("reference_version"), float(gate["reference_score"]))
    found = _DETAIL.search(str(gate.get("detail", "")))
    if found:
        return ChampionOnHoldout(found.group(1), float(found.group(2)))
    return ChampionOnHoldout(None, None, "none in production then")
