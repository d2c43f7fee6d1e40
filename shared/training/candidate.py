"""What training produces: one trained family (Candidate), its gate results and TrainingError."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.config.errors import RenkeiError
from shared.model.families import FitReport


class TrainingError(RenkeiError, ValueError):
    """Training cannot start or finish; the message says why."""


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    value: float
    threshold: float
    detail: str
    # what the candidate was compared with, on its own holdout: the production version
    # the gate scored (beats_champion) and that version's key metric there
    reference_version: str | None = None
    reference_score: float | None = None


@dataclass
class Candidate:
    """One trained family: holdout metrics, slices, fit report, artifact files."""

    family: str
    metrics: dict[str, float]
    slices: dict[str, dict[str, float]]
    fit: FitReport
    files: dict[str, bytes] = field(repr=False)
    gates: list[GateResult] = field(default_factory=list)
    status: str = "trained"
    artifact_uri: str | None = None
    guard: dict[str, Any] = field(default_factory=dict)  # holdout decisions under the rules
    # how the rows were held (training.memory): empty in memory; external: the split's
    # sizes and the seeded sample's rows, seed and the steps that used it (the lineage)
    data: dict[str, Any] = field(default_factory=dict)
    # training.search: the group's trial (a train task's) or, once chosen, the study's
    # summary (the lineage); empty when the family was fitted once, as configured
    search: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    @property
    def failing_gates(self) -> list[str]:
        return [g.name for g in self.gates if not g.passed]
