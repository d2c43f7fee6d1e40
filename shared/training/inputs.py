"""Training input: the chosen dataset versions read from the ledger, labels joined per batch, split by time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shared.config import ProjectConfig
from shared.data import storage

from .candidate import TrainingError

if TYPE_CHECKING:
    from shared.ledger import Ledger


@dataclass(frozen=True)
class TrainingSplit:
    """Rows by time: the oldest for training, then validation, the newest as holdout."""

    train: pd.DataFrame
    validation: pd.DataFrame
    holdout: pd.DataFrame
    target: str

    def y(self, part: str) -> np.ndarray:
        return getattr(self, part)[self.target].to_numpy(dtype=float)

    @property
    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "validation": len(self.validation),
            "holdout": len(self.holdout),
        }


def _with_labels(
    rows: pd.DataFrame, labels: pd.DataFrame | None, cfg: ProjectConfig
) -> pd.DataFrame:
    """One dataset's rows with the labels delivered for that dataset, joined by id."""
    rows = rows.drop_duplicates(cfg.id_column, keep="last")  # ids are unique per batch
    target = cfg.target
    if labels is None or not len(labels):
        return rows
    lab = labels.drop_duplicates(cfg.id_column, keep="last")
    lab = lab[[cfg.id_column, target]].rename(columns={target: "_label"})
    rows = rows.merge(lab, on=cfg.id_column, how="left")
    if target in rows:
        rows[target] = rows[target].where(rows[target].notna(), rows["_label"])
    else:
        rows[target] = rows["_label"]
    return rows.drop(columns="_label")


def assemble(
    datasets: list[pd.DataFrame], labels: list[pd.DataFrame | None], cfg: ProjectConfig
) -> pd.DataFrame:
    """Validated rows of the chosen dataset versions, each with its own labels.

    ``labels[i]`` holds the labels delivered for ``datasets[i]`` (newest last), or is
    missing: labels are joined by id only within the batch they were delivered for, since
    ids are unique per batch, not across batches. A label inside the dataset (the target
    column) wins. Rows without any label are left out (counted by the caller).
    """
    if not datasets:
        raise TrainingError("no dataset versions to train on: run the ingest flow first")
    if len(labels) not in (0, len(datasets)):
        raise ValueError("assemble: give one labels frame (or None) per dataset, or none")
    per_batch = labels or [None] * len(datasets)
    rows = pd.concat(
        [_with_labels(d, lab, cfg) for d, lab in zip(datasets, per_batch, strict=True)],
        ignore_index=True,
    )
    target = cfg.target
    if target not in rows:
        raise TrainingError(
            f"no labels: the datasets have no {target!r} column and no label batch was recorded"
        )
    if cfg.task == "multiclass":  # a label is its class's index (not a class: no label)
        from shared.model.multiclass import class_index

        rows[target] = class_index(rows[target], cfg.classes or [])
    rows = rows[rows[target].notna()].reset_index(drop=True)
    if cfg.task == "binary":
        rows[target] = rows[target].astype(bool).astype(float)
    return rows


def generated_split(cfg: ProjectConfig, rows: int, seed: int, **generator: Any) -> TrainingSplit:
    """A training split made from the built-in generator, through ingest's validation:
    orders validated by the project's contract, labels joined, split by time."""
    from shared.data.contracts import build_contracts
    from shared.data.generator import generate_orders
    from shared.data.ingest import generator_settings
    from shared.data.validation import split_valid

    g = generator_settings(cfg)
    kwargs = {"start": g.start, "days": g.days, **generator}
    batch = generate_orders(rows, seed, **kwargs)
    valid = split_valid(batch.orders, build_contracts(cfg)).valid
    return split_by_time(assemble([valid], [batch.labels], cfg), cfg)


def split_by_time(rows: pd.DataFrame, cfg: ProjectConfig) -> TrainingSplit:
    s = cfg.training.split
    rows = rows.sort_values(cfg.timestamp_column, kind="stable").reset_index(drop=True)
    n = len(rows)
    n_hold, n_val = int(n * s.holdout), int(n * s.validation)
    n_train = n - n_hold - n_val
    if min(n_train, n_val, n_hold) < 20:
        raise TrainingError(
            f"only {n} labelled rows: too few to split into train/validation/holdout "
            "(need at least 20 in each); ingest more data"
        )
    return TrainingSplit(
        rows.iloc[:n_train].reset_index(drop=True),
        rows.iloc[n_train : n_train + n_val].reset_index(drop=True),
        rows.iloc[n_train + n_val :].reset_index(drop=True),
        cfg.target,
    )


@dataclass(frozen=True)
class TrainingInput:
    """The dataset versions chosen, their labelled rows and how many rows had no label."""

    dataset_versions: list[str]
    rows: pd.DataFrame
    unlabelled: int


def chosen_locations(ledger: Ledger, versions: list[str]) -> tuple[list[str], dict[str, str]]:
    """The chosen dataset versions (default: the newest), each once, and their locations."""
    known = ledger.datasets.all()
    if not known:
        raise TrainingError("the ledger has no datasets: run python flows/ingest_flow.py run first")
    if not versions:
        versions = [known[0].version]
    by_version = {d.version: d.location for d in known}
    missing = [v for v in versions if v not in by_version]
    if missing:
        raise TrainingError(f"unknown dataset version(s): {', '.join(missing)}")
    return list(dict.fromkeys(versions)), by_version


def load_training_input(ledger: Ledger, cfg: ProjectConfig, versions: list[str]) -> TrainingInput:
    """Read the chosen dataset versions (default: the newest), each joined with the labels
    recorded for it."""
    versions, by_version = chosen_locations(ledger, versions)
    frames = [storage.read_parquet(by_version[v]) for v in versions]
    batches = ledger.datasets.label_batches()
    labels = [  # only the labels delivered for each dataset version (a retrain of an old
        # dataset never sees labels of a later batch that happens to reuse its ids)
        pd.concat(
            [storage.read_parquet(b.uri) for b in batches if b.dataset_version == v]
            or [pd.DataFrame()],
            ignore_index=True,
        )
        for v in versions
    ]
    total = sum(len(f) for f in frames)
    rows = assemble(frames, labels, cfg)
    return TrainingInput(versions, rows, total - len(rows))
