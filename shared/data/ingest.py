"""Collect -> Validate -> Data repository: land a raw batch, validate it, store both halves.

``land_raw`` keeps the raw input byte for byte; ``read_raw`` turns its bytes into a frame or
raises :class:`RawInputError` with one line naming the file and the problem; ``validate_batch``
splits and stores valid rows and quarantined rows under the data root.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from shared.config import GeneratorSettings, ProjectConfig
from shared.data import storage
from shared.data.contracts import SCHEMA_VERSION
from shared.data.generator import generate_orders
from shared.data.landed import LandedFile, LandedRaw
from shared.data.validation import CheckCount, RawInputError

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


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


def raw_files(source: str) -> list[tuple[str, str]]:
    """The files of a raw batch as (name, uri): one file, a comma-separated list of files, or
    every file under a local directory or s3:// prefix (in name order)."""
    items: list[tuple[str, str]] = []
    for src in (s.strip() for s in source.split(",") if s.strip()):
        if storage.is_prefix(src):
            listed = storage.list_files(src)
            if not listed:
                raise RawInputError(f"{src}: no files under this prefix")
            base = src.rstrip("/") + "/"
            items += [(u[len(base) :] if u.startswith(base) else u, u) for u in listed]
        else:
            items.append((PurePosixPath(src).name, src))
    if not items:
        raise RawInputError("no raw input named: pass a file, a list of files or a prefix")
    names = [n for n, _ in items]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise RawInputError(f"{dup}: two raw files have this name; give each file its own name")
    for name, uri in items:
        if PurePosixPath(name).suffix.lower() not in FORMATS:
            _format_of(uri)
    return items


def _hash_file(name: str, uri: str) -> tuple[str, int]:
    """sha256 and size of a raw file, streamed; one-line errors for what cannot be read."""
    h, size, text = hashlib.sha256(), 0, False
    try:
        with storage.open_read(uri) as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
                size += len(chunk)
                text = text or bool(chunk.strip())
    except FileNotFoundError:
        raise RawInputError(f"{uri}: file not found") from None
    except IsADirectoryError:
        raise RawInputError(f"{uri}: is a directory, expected a file") from None
    except PermissionError:
        raise RawInputError(f"{uri}: permission denied") from None
    except Exception as e:  # an S3 object that is not there (botocore's ClientError)
        if "404" in str(e) or "NoSuchKey" in str(e) or "Not Found" in str(e):
            raise RawInputError(f"{uri}: file not found") from None
        raise
    if not text:
        raise RawInputError(f"{uri}: file is empty")
    return h.hexdigest(), size


def land_raw(source: str, data_root: str) -> LandedRaw:
    """Copy the raw batch under the data root exactly as it came, streaming (never whole in
    memory): one file to ``raw/<sha256>/<name>``; many files to ``raw/<batch sha256>/<name>``
    each, the batch hash covering every file's name and sha256."""
    items = raw_files(source)
    hashed = [(name, uri, *_hash_file(name, uri)) for name, uri in items]
    if len(hashed) == 1:
        digest = hashed[0][2]
    else:
        listing = "".join(f"{n}\t{d}\n" for n, _, d, _ in hashed)
        digest = hashlib.sha256(listing.encode()).hexdigest()
    files = []
    for name, uri, sha, size in hashed:
        dest = storage.join(data_root, "raw", digest, name)
        if not storage.exists(dest):
            storage.copy(uri, dest)
        files.append(LandedFile(name, dest, sha, size, _format_of(name), uri))
    formats = {f.format for f in files}
    fmt = formats.pop() if len(formats) == 1 else "mixed"
    uri = files[0].uri if len(files) == 1 else storage.join(data_root, "raw", digest)
    return LandedRaw(source, uri, digest, sum(f.size for f in files), fmt, tuple(files))


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
