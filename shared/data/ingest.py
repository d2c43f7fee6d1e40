"""Collect -> Validate -> Data repository: land a raw batch, validate it, store both halves.

``land_raw`` keeps the raw input byte for byte; ``read_raw`` turns its bytes into a frame or
raises :class:`RawInputError` with one line naming the file and the problem; ``validate_batch``
splits and stores valid rows and quarantined rows under the data root.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

import pandas as pd

from shared.config import GeneratorSettings, ProjectConfig
from shared.data import storage
from shared.data.contracts import SCHEMA_VERSION, build_contracts
from shared.data.generator import generate_orders
from shared.data.rawread import read_raw
from shared.data.validation import CheckCount, RawInputError, SplitResult, split_valid

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class LandedRaw:
    """A raw batch as it came, copied into the data root."""

    source: str  # where it came from (path, s3:// URI or "generator:...")
    uri: str  # the byte-for-byte copy under <data_root>/raw/
    sha256: str
    size: int
    format: str


@dataclass(frozen=True)
class IngestOutcome:
    """What one ingest produced: the dataset version, counts and where things are."""

    dataset_version: str
    rows_in: int
    rows_valid: int
    rows_quarantined: int
    valid_fraction: float
    min_valid_fraction: float
    dataset_uri: str
    quarantine_uri: str
    raw: LandedRaw
    check_counts: tuple[CheckCount, ...]
    extra_columns: tuple[str, ...]
    schema_version: str = SCHEMA_VERSION

    @property
    def passed(self) -> bool:
        return self.valid_fraction >= self.min_valid_fraction


def _format_of(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in FORMATS:
        raise RawInputError(
            f"{name}: unsupported format '{suffix or '(none)'}' (expected .csv or .parquet)"
        )
    return FORMATS[suffix]


def land_raw(source: str, data_root: str) -> LandedRaw:
    """Copy the raw input under ``<data_root>/raw/<sha256>/`` exactly as it came."""
    fmt = _format_of(source)
    try:
        data = storage.read_bytes(source)
    except FileNotFoundError:
        raise RawInputError(f"{source}: file not found") from None
    except IsADirectoryError:
        raise RawInputError(f"{source}: is a directory, expected a file") from None
    except PermissionError:
        raise RawInputError(f"{source}: permission denied") from None
    if not data.strip():
        raise RawInputError(f"{source}: file is empty")
    digest = hashlib.sha256(data).hexdigest()
    uri = storage.join(data_root, "raw", digest, PurePosixPath(source).name)
    if not storage.exists(uri):
        storage.write_bytes(uri, data)
    return LandedRaw(source, uri, digest, len(data), fmt)


def generator_settings(cfg: ProjectConfig) -> GeneratorSettings:
    """The built-in generator's settings; a project without a ``generator:`` section (any
    use case but the built-in food delivery) must name its data instead."""
    if cfg.generator is None:
        raise RawInputError(
            f"project {cfg.name!r} has no built-in data generator (no 'generator:' section in "
            "its project.yaml): pass --source PATH (a .csv or .parquet file, or an s3:// URI)"
        )
    return cfg.generator


def generate_raw(
    cfg: ProjectConfig,
    data_root: str,
    rows: int,
    seed: int,
    bad_fraction: float,
    drift: float = 0.0,
    start: str | None = None,
    days: int | None = None,
    prefix: str = "orders",
) -> tuple[str, str]:
    """Write a generated batch as a CSV export plus its delayed labels; return both paths."""
    g = generator_settings(cfg)
    batch = generate_orders(
        rows,
        seed,
        bad_fraction=bad_fraction,
        drift=drift,
        start=start or g.start,
        days=days or g.days,
        id_prefix=f"{prefix[0]}{seed}",
    )
    stamp = (start or g.start)[:10]
    name = f"{prefix}-{stamp}-seed{seed}-rows{rows}-bad{bad_fraction:g}-drift{drift:g}"
    src = storage.join(data_root, "incoming", f"{name}.csv")
    labels = storage.join(data_root, "incoming", f"{name}.labels.parquet")
    storage.write_bytes(src, batch.orders.to_csv(index=False).encode())
    storage.write_parquet(batch.labels, labels)
    return src, labels


def dataset_version(valid: pd.DataFrame) -> str:
    """Content hash of a validated dataset: same rows and columns, same version."""
    h = hashlib.sha256()
    h.update(SCHEMA_VERSION.encode())
    h.update(",".join(f"{c}:{t}" for c, t in valid.dtypes.astype(str).items()).encode())
    h.update(pd.util.hash_pandas_object(valid, index=False).to_numpy().tobytes())
    return "ds-" + h.hexdigest()[:16]


def validate_batch(
    raw: LandedRaw, cfg: ProjectConfig, data_root: str, now: datetime | None = None
) -> tuple[IngestOutcome, SplitResult]:
    """Validate a landed batch and store the dataset and its quarantine as Parquet."""
    df = read_raw(storage.read_bytes(raw.uri), raw.source, raw.format)
    try:
        split = split_valid(df, build_contracts(cfg, now))
    except RawInputError as e:
        raise RawInputError(f"{raw.source}: {e}") from None
    version = dataset_version(split.valid)
    dataset_uri = storage.join(data_root, "datasets", version, "data.parquet")
    quarantine_uri = storage.join(data_root, "quarantine", version, f"{raw.sha256[:16]}.parquet")
    if not storage.exists(dataset_uri):
        storage.write_parquet(split.valid, dataset_uri)
    storage.write_parquet(split.quarantined, quarantine_uri)
    outcome = IngestOutcome(
        dataset_version=version,
        rows_in=split.rows_in,
        rows_valid=split.rows_valid,
        rows_quarantined=split.rows_quarantined,
        valid_fraction=split.valid_fraction,
        min_valid_fraction=cfg.validation.min_valid_fraction,
        dataset_uri=dataset_uri,
        quarantine_uri=quarantine_uri,
        raw=raw,
        check_counts=tuple(split.check_counts()),
        extra_columns=tuple(split.extra_columns),
    )
    return outcome, split
