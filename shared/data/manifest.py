"""Partitioned Parquet: a directory or ``s3://`` prefix of part files plus ``_manifest.json``.

The manifest lists each part in order with its rows, the sha256 of its bytes and where its
rows came from (input rows, raw files); readers go by the manifest, never by listing, so a
half-written or stray file is never read. It is named with a leading '_' so Parquet readers
(pyarrow, pandas, Spark) that open the directory as a dataset skip it and read just the parts.
Parts have fixed names (``part-00000.parquet``) and are written atomically: a task that is
killed and run again replaces its part, it never adds a second one.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from shared.data import storage

if TYPE_CHECKING:  # pandas is imported where frames are read: writing a manifest needs none
    import pandas as pd

MANIFEST = "_manifest.json"


@dataclass(frozen=True)
class PartEntry:
    """One part file of a partitioned output."""

    name: str  # file name under the prefix
    rows: int
    sha256: str  # of the file's bytes
    input_start: int = 0  # input rows [input_start, input_stop) it was made from
    input_stop: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # what this part counted
    sources: list[dict[str, Any]] = field(default_factory=list)  # raw file + rows per segment


@dataclass(frozen=True)
class Manifest:
    kind: str  # dataset | quarantine | scores
    parts: tuple[PartEntry, ...]
    version: str = ""
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.parts)

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": self.kind,
                "version": self.version,
                "rows": self.rows,
                "totals": self.totals,
                "parts": [asdict(p) for p in self.parts],
            },
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        d = json.loads(text)
        parts = tuple(PartEntry(**p) for p in d["parts"])
        return cls(d["kind"], parts, d.get("version", ""), d.get("totals", {}))


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def write_part(df: pd.DataFrame, uri: str) -> tuple[int, str]:
    """Write one part atomically; its rows and the sha256 of its bytes."""
    data = storage.parquet_bytes(df)
    storage.write_bytes(uri, data)
    return len(df), hashlib.sha256(data).hexdigest()


def write_manifest(prefix: str, manifest: Manifest) -> str:
    uri = storage.join(prefix, MANIFEST)
    storage.write_bytes(uri, manifest.to_json().encode())
    return uri


def read_manifest(prefix: str) -> Manifest:
    try:
        return Manifest.from_json(storage.read_bytes(storage.join(prefix, MANIFEST)).decode())
    except FileNotFoundError:
        raise FileNotFoundError(f"{prefix}: no {MANIFEST} (not a partitioned output)") from None


def has_manifest(prefix: str) -> bool:
    return storage.exists(storage.join(prefix, MANIFEST))


def iter_frames(uri: str, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    """The rows of a Parquet file or a partitioned prefix, one part at a time, in order
    (``columns``: only those)."""
    import pandas as pd

    files = (
        [uri]
        if uri.endswith((".parquet", ".pq"))
        else [storage.join(uri, p.name) for p in read_manifest(uri).parts]
    )
    for f in files:
        yield pd.read_parquet(io.BytesIO(storage.read_bytes(f)), columns=columns)


def read_frame(uri: str) -> pd.DataFrame:
    """A whole partitioned output as one frame (small outputs: the app, tests)."""
    import pandas as pd

    frames = list(iter_frames(uri))
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def publish(staged: list[tuple[str, str]], prefix: str) -> None:
    """Copy staged part files (uri, name) under ``prefix`` (each written atomically)."""
    for uri, name in staged:
        storage.copy(uri, storage.join(prefix, name))
