"""A raw batch as landed under the data root: its files, where they came from, their hashes.

Plain records that need no frame library: a step that only needs to know where a batch lies
(the score flow's join, recording the batch) loads nothing else when it reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LandedFile:
    """One file of a raw batch, copied byte for byte under the data root."""

    name: str  # its name in the batch (relative to the prefix it was listed under)
    uri: str
    sha256: str
    size: int
    format: str
    source: str = ""  # where it came from


@dataclass(frozen=True)
class LandedRaw:
    """A raw batch as it came (one file or many), copied into the data root."""

    source: str  # where it came from (path, prefix, s3:// URI, list, or a generated file)
    uri: str  # the copy: the file itself (one file) or the folder of the files (many)
    sha256: str  # of the file (one file), or of the names and sha256 of its files (many)
    size: int
    format: str  # csv | parquet | mixed
    files: tuple[LandedFile, ...] = ()
