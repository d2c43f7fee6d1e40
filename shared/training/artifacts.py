"""A candidate's outputs: its artifact files and its ledger registration (no frame library: an
approval hashes a version's files through :func:`load_artifacts`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.config import ProjectConfig
from shared.data import storage

if TYPE_CHECKING:
    from shared.ledger import ModelRegistration

    from .candidate import Candidate


def save_artifacts(c: Candidate, root: str, run_key: str, name: str | None = None) -> str:
    """Write a candidate's files under ``<data_root>/models/<run>/<name>/`` (``name``: the
    family unless given: a search's trial group); return the dir."""
    prefix = storage.join(root, "models", run_key.replace("/", "-"), name or c.family)
    for name, data in c.files.items():
        storage.write_bytes(storage.join(prefix, name), data)
    return prefix


def load_artifacts(prefix: str, names: list[str]) -> dict[str, bytes]:
    return {n: storage.read_bytes(storage.join(prefix, n)) for n in names}


def load_optional(prefix: str, name: str) -> bytes | None:
    """One artifact file, or None where the version was trained without it."""
    try:
        return storage.read_bytes(storage.join(prefix, name))
    except FileNotFoundError:
        return None


def registration(
    c: Candidate, base: Candidate, cfg: ProjectConfig, task: str | None
) -> ModelRegistration:
    """The ledger record of one trained family."""
    from shared.ledger import ModelRegistration

    return ModelRegistration(
        family=c.family,
        status=c.status,
        key_metric=cfg.training.key_metric,
        metrics=c.metrics,
        slice_metrics=c.slices,
        gate_results=[vars(g) for g in c.gates],
        baseline_metrics=base.metrics,
        artifact_uri=c.artifact_uri or "",
        resources={
            "device": c.fit.device,
            "fit_seconds": round(c.fit.seconds, 3),
            "iterations": c.fit.iterations,
            "guard": c.guard,
            # trained through the parts: how, and the seeded sample (old candidates: none)
            **({"data": c.data} if getattr(c, "data", None) else {}),
            # tuned (training.search): the study, its trials and the one refitted
            **({"search": c.search} if getattr(c, "search", None) else {}),
        },
        task_pathspec=task,
    )
