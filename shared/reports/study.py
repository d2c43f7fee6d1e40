"""A tuned version's hyperparameter search (training.search) as ``renkei models``, ``renkei
lineage`` and the app show it: the study, where it lives, every trial (state, parameters,
validation value) and the one refitted and gated (kept with the version at registration)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.ledger import ModelVersionRecord

if TYPE_CHECKING:  # pandas only where a model has a study (renkei models lists every model)
    import pandas as pd


@dataclass(frozen=True)
class StudyView:
    study: str
    storage: str  # sqlite | postgresql
    location: str  # the storage URL without its password
    metric: str  # the key metric, on the validation split
    direction: str
    n_trials: int
    n_complete: int
    n_pruned: int
    tasks: int
    task_seconds: float
    best_trial: int | None
    best_params: dict[str, Any]
    best_value: float | None
    trials: pd.DataFrame  # number, state, value, params, chosen

    def summary(self) -> str:
        """One line: the study, its trials and the one chosen."""
        value = f"{self.best_value:.4g}" if self.best_value is not None else "none"
        chosen = (
            f"trial {self.best_trial} ({self.metric} {value} on validation: "
            f"{_params(self.best_params)})"
            if self.best_trial is not None
            else f"the configured settings ({_params(self.best_params)}): no trial completed"
        )
        return (
            f"study {self.study} ({self.storage}): {self.n_trials} trials, "
            f"{self.n_complete} complete, {self.n_pruned} pruned, in {self.tasks} task(s), "
            f"{self.task_seconds:.1f} task-seconds; chose {chosen}"
        )


def _params(p: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items())


def study_of(model: ModelVersionRecord) -> StudyView | None:
    """The version's study, or None: it was fitted once, as configured."""
    s = (model.resources or {}).get("search")
    if not s:
        return None
    import pandas as pd

    rows = [
        {
            "trial": t["number"],
            "state": t["state"],
            "value": t["value"],
            "params": json.dumps(t["params"], sort_keys=True),
            "chosen": t["number"] == s["best_trial"],
        }
        for t in s["trials"]
    ]
    frame = pd.DataFrame(rows, columns=["trial", "state", "value", "params", "chosen"])
    return StudyView(
        s["study"],
        s["storage"],
        s["location"],
        s["metric"],
        s["direction"],
        s["n_trials"],
        s["n_complete"],
        s["n_pruned"],
        s["tasks"],
        s["task_seconds"],
        s["best_trial"],
        s["best_params"],
        s["best_value"],
        frame,
    )
