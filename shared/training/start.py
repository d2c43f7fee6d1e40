"""What the train flow's first step does: pick the data, split it, learn the envelope,
score the champion and fit the families that need no GPU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from shared.config import ProjectConfig, RulesConfig
from shared.guard import Envelope

from .candidate import Candidate
from .external import SpilledSplit, dataset_rows, spill_from_ledger, use_external
from .fit import families_by_device, train_and_save
from .gates import champion_metrics
from .inputs import (
    TrainingInput,
    TrainingSplit,
    chosen_locations,
    load_training_input,
    split_by_time,
)

if TYPE_CHECKING:  # the ledger (SQLAlchemy) is imported only by steps that open it
    from shared.guard.bundle_sign import ReleaseKeys
    from shared.ledger import Ledger


@dataclass
class TrainingStart:
    """The chosen input and its split, the envelope, the champion's holdout metrics, the
    families left for the GPU step and the CPU families already fitted and saved."""

    training_input: TrainingInput
    split: TrainingSplit | SpilledSplit
    envelope: Envelope
    champion: tuple[str, dict[str, float]] | None
    gpu_families: list[str]
    cpu_candidates: list[Candidate]


def start_training(
    ledger: Ledger,
    cfg: ProjectConfig,
    rules: RulesConfig,
    datasets: str,
    run_key: str,
    *,
    keys: ReleaseKeys,
) -> TrainingStart:
    """``datasets``: comma-separated dataset versions (empty: the newest); ``keys``: the
    release keys production's bundle (the champion) is verified with."""
    chosen = [v.strip() for v in datasets.split(",") if v.strip()]
    versions, locations = chosen_locations(ledger, chosen)
    total = sum(dataset_rows(locations[v]) for v in versions)
    split: TrainingSplit | SpilledSplit
    if use_external(cfg, total):  # training.memory: the split written as parts
        split = spill_from_ledger(ledger, cfg, versions, locations, run_key)
        training_input = TrainingInput(versions, pd.DataFrame(), total - sum(split.rows.values()))
        envelope = Envelope.learn(split.sample("train"), cfg)  # the seeded sample
        champion = champion_metrics(ledger, split.frames("holdout"), cfg, keys)
    else:
        training_input = load_training_input(ledger, cfg, versions)
        split = split_by_time(training_input.rows, cfg)
        envelope = Envelope.learn(split.train, cfg)
        champion = champion_metrics(ledger, split.holdout, cfg, keys)
    cpu_families, gpu_families = families_by_device(cfg)
    cpu_candidates = [train_and_save(f, split, cfg, rules, envelope, run_key) for f in cpu_families]
    return TrainingStart(training_input, split, envelope, champion, gpu_families, cpu_candidates)
