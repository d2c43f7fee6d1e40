"""Training beyond one task's memory: the time split written as parts, read part by part.

``training.memory.mode: external`` (or ``auto`` above ``external_above_rows`` dataset rows)
never builds the whole frame. Two streaming passes over the chosen datasets' parts (each
joined with its labels as :func:`assemble` does) make the same split as
:func:`split_by_time`: the first keeps only the timestamps and finds the two cut points
(the row at sorted position ``n_train`` and ``n_train + n_val``, ties broken by input order
as the stable sort does); the second writes each part's train, validation and holdout rows
(each part's rows in time order) under ``<data_root>/training/<run>/split/``. A task then
holds one part at a time, plus a seeded sample of at most ``sample_rows`` rows where a step
cannot stream (the baseline rule, the envelope, the calibration, the drift reference).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shared.config import ProjectConfig
from shared.data import storage
from shared.data.manifest import (
    Manifest,
    PartEntry,
    iter_frames,
    part_name,
    read_manifest,
    write_manifest,
    write_part,
)

from .candidate import TrainingError
from .inputs import assemble

if TYPE_CHECKING:
    from shared.ledger import Ledger

PARTS = ("train", "validation", "holdout")


@dataclass(frozen=True)
class SpilledSplit:
    """The time split as three partitioned prefixes (train, validation, holdout), read part
    by part; ``sample_rows`` and ``seed`` make the seeded samples of the steps that cannot
    stream."""

    prefixes: dict[str, str]
    target: str
    rows: dict[str, int]
    sample_rows: int
    seed: int
    batch_rows: int = 65_536

    @property
    def sizes(self) -> dict[str, int]:
        return dict(self.rows)

    def frames(self, part: str, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """The rows of ``part`` (train, validation or holdout), in order, in batches of at
        most ``batch_rows`` rows (each part file read batch by batch, never whole): what a
        task holds at once is the same however large the parts are."""
        import pyarrow.parquet as pq

        prefix = self.prefixes[part]
        for entry in read_manifest(prefix).parts:
            with storage.open_read(storage.join(prefix, entry.name)) as f:
                pf = pq.ParquetFile(f)
                for b in pf.iter_batches(batch_size=self.batch_rows, columns=columns):
                    yield b.to_pandas()

    def sample(self, part: str) -> pd.DataFrame:
        """A uniform sample of at most ``sample_rows`` rows of ``part``, the same for the
        same split and seed (every row when the part is smaller), in part order."""
        n = self.rows[part]
        k = min(n, self.sample_rows)
        rng = np.random.default_rng([self.seed, PARTS.index(part)])
        chosen = np.sort(rng.choice(n, size=k, replace=False)) if k < n else np.arange(n)
        out, at = [], 0
        for f in self.frames(part):
            lo, hi = np.searchsorted(chosen, [at, at + len(f)])
            if hi > lo:
                out.append(f.iloc[chosen[lo:hi] - at])
            at += len(f)
        return pd.concat(out, ignore_index=True)

    def lineage(self, what: list[str]) -> dict[str, Any]:
        """What the model's lineage records of this split: external, and which steps used
        the seeded sample."""
        rows = {p: min(n, self.sample_rows) for p, n in self.rows.items() if p != "holdout"}
        return {
            "memory": "external",
            "rows": self.sizes,
            "sample": {
                "max_rows": self.sample_rows,
                "seed": self.seed,
                "rows": rows,
                "used_by": what,
            },
        }


def dataset_rows(uri: str) -> int:
    """Rows of a stored dataset (from its manifest or Parquet footer, no rows read)."""
    if uri.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        with storage.open_read(uri) as f:
            return int(pq.ParquetFile(f).metadata.num_rows)
    return read_manifest(uri).rows


def use_external(cfg: ProjectConfig, rows: int) -> bool:
    """Whether training on ``rows`` input rows goes through the parts (training.memory)."""
    m = cfg.training.memory
    return m.mode == "external" or (m.mode == "auto" and rows > m.external_above_rows)


def labels_of(ids: pd.Series, batches: list[str], cfg: ProjectConfig) -> pd.DataFrame | None:
    """The rows of the label batches (files, in delivery order) whose id is in ``ids``: each
    file read in record batches and filtered, so the labels are never held whole."""
    if not batches:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    wanted = pa.array(ids.astype(str).to_numpy())
    cols = [cfg.id_column, cfg.target]
    kept = []
    for uri in batches:
        with storage.open_read(uri) as f:
            for b in pq.ParquetFile(f).iter_batches(batch_size=1 << 18, columns=cols):
                ids_b = pc.cast(b.column(0), pa.string())
                kept.append(b.filter(pc.is_in(ids_b, value_set=wanted)))
    frame = pa.Table.from_batches(kept).to_pandas() if kept else pd.DataFrame(columns=cols)
    return frame


def _labelled_parts(
    sources: list[tuple[str, list[str]]], cfg: ProjectConfig
) -> Iterator[pd.DataFrame]:
    """Each part of each dataset joined with its labels (:func:`assemble`, part by part:
    ids are unique within a dataset version, ingest quarantines a repeated one)."""
    for uri, batches in sources:
        for frame in iter_frames(uri):
            labels = labels_of(frame[cfg.id_column], batches, cfg)
            if batches and cfg.target not in frame and (labels is None or not len(labels)):
                frame = frame.assign(**{cfg.target: np.nan})  # no label for this part's rows
            yield assemble([frame], [labels], cfg)


def _stamps(rows: pd.DataFrame, cfg: ProjectConfig) -> np.ndarray:
    return pd.to_datetime(rows[cfg.timestamp_column]).to_numpy(dtype="datetime64[ns]").view("i8")


def _cuts(stamps: np.ndarray, positions: list[int]) -> list[tuple[int, int]]:
    """For each sorted position: its timestamp and how many rows with that timestamp come
    before it (the stable sort keeps input order among equal timestamps)."""
    out = []
    for k in positions:
        t = int(np.partition(stamps, k)[k])
        out.append((t, k - int((stamps < t).sum())))
    return out


def spill_split(
    sources: list[tuple[str, list[str]]], cfg: ProjectConfig, prefix: str
) -> SpilledSplit:
    """The time split of ``sources`` (a dataset's uri, the uris of its label batches in
    delivery order) written under ``prefix``."""
    stamps = np.concatenate(
        [_stamps(p, cfg) for p in _labelled_parts(sources, cfg)] or [np.zeros(0, "i8")]
    )
    s = cfg.training.split
    n = len(stamps)
    n_hold, n_val = int(n * s.holdout), int(n * s.validation)
    n_train = n - n_hold - n_val
    if min(n_train, n_val, n_hold) < 20:
        raise TrainingError(
            f"only {n} labelled rows: too few to split into train/validation/holdout "
            "(need at least 20 in each); ingest more data"
        )
    cuts = _cuts(stamps, [n_train, n_train + n_val])
    del stamps
    seen = [0, 0]  # rows met so far with each cut's timestamp
    entries: dict[str, list[PartEntry]] = {p: [] for p in PARTS}
    for i, rows in enumerate(_labelled_parts(sources, cfg)):
        t = _stamps(rows, cfg)
        which = np.zeros(len(rows), dtype=np.int8)  # 0 train, 1 validation, 2 holdout
        for j, (ts, before) in enumerate(cuts):
            tie = t == ts
            ordinal = np.cumsum(tie) - 1 + seen[j]
            which += (t > ts) | (tie & (ordinal >= before))
            seen[j] += int(tie.sum())
        order = np.argsort(t, kind="stable")
        for k, part in enumerate(PARTS):
            chosen = rows.iloc[order[which[order] == k]].reset_index(drop=True)
            if not len(chosen):  # a part of old rows has no holdout rows, say
                continue
            name = part_name(i)
            n_rows, sha = write_part(chosen, storage.join(prefix, part, name))
            entries[part].append(PartEntry(name, n_rows, sha))
    for part in PARTS:
        write_manifest(storage.join(prefix, part), Manifest("training_split", tuple(entries[part])))
    m = cfg.training.memory
    return SpilledSplit(
        {p: storage.join(prefix, p) for p in PARTS},
        cfg.target,
        {p: sum(e.rows for e in entries[p]) for p in PARTS},
        m.sample_rows,
        cfg.training.seed,
        m.batch_rows,
    )


def split_prefix(cfg: ProjectConfig, run_key: str) -> str:
    return storage.join(cfg.storage.data_root, "training", run_key.replace("/", "-"), "split")


def spill_from_ledger(
    ledger: Ledger, cfg: ProjectConfig, versions: list[str], locations: dict[str, str], run_key: str
) -> SpilledSplit:
    """The chosen dataset versions' split written for ``run_key``, each joined with the
    label batches delivered for it."""
    batches = ledger.datasets.label_batches()
    sources = [(locations[v], [b.uri for b in batches if b.dataset_version == v]) for v in versions]
    return spill_split(sources, cfg, split_prefix(cfg, run_key))
