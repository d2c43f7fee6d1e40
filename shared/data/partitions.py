"""Partitions of a raw batch: planned from metadata, each read on its own.

A raw batch is one file or many (a list, a local directory or an ``s3://`` prefix); its files
in name order make one sequence of input rows (a CSV header is not a row). Partition ``i`` is
input rows ``[i * size, (i + 1) * size)`` of that sequence, whichever files they sit in, so the
same rows split into different files give the same partitions (and the same dataset version).

Planning loads no rows: a Parquet file's row count and row groups come from its footer; a CSV
file is scanned once, chunk by chunk, for record boundaries (newlines outside quotes, blank
lines skipped as pandas does), keeping only the byte offsets where a partition starts. Reading
a partition reads only its byte ranges (CSV, plus the header) or its row groups (Parquet).

The size is ``storage.partition_rows``: a number of input rows, or ``auto`` (the shipped
default), which sizes partitions to the machine that plans the batch (:func:`partition_size`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa_arrow
import pyarrow.parquet as pq

from shared.config import PartitionRows
from shared.config.settings import machine_cores
from shared.data import storage
from shared.data.ingest import LandedRaw
from shared.data.rawread import _first_line, read_raw
from shared.data.validation import RawInputError

CHUNK = 1 << 24  # bytes per read while scanning a CSV file

# storage.partition_rows: auto
AUTO: Literal["auto"] = "auto"
# tasks per core: one. A task's start (a process, its imports) costs seconds; more tasks than
# cores only queue behind each other (ingest flow, 2 cores, 400,000 rows: 4 tasks 17.4-17.7 s,
# 2 tasks 12.7-13.2 s; 1M rows: 2 tasks 17.3-17.9 s, 4 tasks 19.5-21.4 s)
TASKS_PER_CORE = 1
AUTO_STEP = 50_000  # auto sizes are multiples of this: the smallest, so small batches are one task
# the largest auto size: a task's memory stays bounded on big batches (one ingest validate
# task's peak RSS, measured on 1M generated rows: 452 MiB at 250,000, 649 at 500,000, 987 at 1M)
AUTO_MAX = 500_000


def partition_size(setting: PartitionRows, total_rows: int, cores: int) -> int:
    """Input rows per partition for ``setting`` (storage.partition_rows) over a batch of
    ``total_rows`` rows planned on a machine of ``cores`` cores.

    A number is used as it is. ``auto``: one task per core (TASKS_PER_CORE), so the batch is
    cut into at most ``cores`` partitions: ``ceil(total_rows / cores)`` rounded up to a
    multiple of 50,000 rows (AUTO_STEP), at least 50,000 (a batch of up to 50,000 rows is one
    task) and at most 500,000 (AUTO_MAX: more tasks than cores on batches of more than
    ``cores x 500,000`` rows, so a task's memory stays bounded). 2 cores: 400,000 rows are
    2 tasks of 200,000, 1M rows 2 of 500,000, 5M rows 10 of 500,000; 16 cores: 1M rows are
    10 tasks of 100,000 (sizes are whole steps of 50,000).
    """
    if setting != AUTO:
        return max(1, int(setting))
    tasks = TASKS_PER_CORE * max(1, cores)
    steps = -(-max(1, total_rows) // (tasks * AUTO_STEP))  # ceil(rows / tasks / step)
    return min(AUTO_MAX, max(1, steps) * AUTO_STEP)


class PlanError(RawInputError):
    """A raw file whose rows cannot be planned; the message is one line naming the file."""


@dataclass(frozen=True)
class Segment:
    """The rows of one raw file that belong to one partition."""

    file: str  # the file's name in the batch
    uri: str  # its landed copy
    format: str
    row_start: int  # rows of the file (0 = its first data row)
    row_stop: int
    byte_start: int = 0  # CSV: the byte range of those rows, and where its header ends
    byte_stop: int = 0
    header_end: int = 0
    label: str = ""  # the file as the user named it (for messages)

    @property
    def rows(self) -> int:
        return self.row_stop - self.row_start

    @property
    def named(self) -> str:
        return self.label or self.file


@dataclass(frozen=True)
class Partition:
    """Input rows ``[start, stop)`` of a raw batch and where they are."""

    index: int
    start: int
    stop: int
    segments: tuple[Segment, ...]

    @property
    def rows(self) -> int:
        return self.stop - self.start

    @property
    def name(self) -> str:
        return f"part-{self.index:05d}"


@dataclass(frozen=True)
class _Scan:
    rows: int
    header_end: int
    size: int
    cuts: dict[int, int]  # row of the file -> byte offset where that row starts


class _CsvScanner:
    """Record boundaries of a CSV stream: newlines outside quotes (RFC 4180 quotes are paired,
    escaped quotes included), blank records skipped, the first record is the header."""

    def __init__(self, rows_before: int, size: int) -> None:
        self.rows_before, self.size = rows_before, size
        self.pos = 0  # offset of the next chunk
        self.quoted = False  # inside quotes at the end of the last chunk
        self.rec_start = 0  # where the current (unterminated) record starts
        self.last = -1  # the last byte of the previous chunk
        self.header_end: int | None = None
        self.rows = 0
        self.cuts: dict[int, int] = {}

    def _records(self, starts: np.ndarray) -> None:
        if self.header_end is None and len(starts):
            starts = starts[1:]  # the header; header_end is set by the caller
        g = self.rows_before + self.rows + np.arange(len(starts))
        at = np.flatnonzero(g % self.size == 0)
        self.cuts.update(zip((at + self.rows).tolist(), starts[at].tolist(), strict=True))
        self.rows += len(starts)

    def feed(self, chunk: bytes) -> None:
        arr = np.frombuffer(chunk, np.uint8)
        if self.quoted or b'"' in chunk:
            q = np.cumsum(arr == 34, dtype=np.int64) + int(self.quoted)
            nl = np.flatnonzero((arr == 10) & (q % 2 == 0))
            self.quoted = bool(q[-1] % 2)
        else:
            nl = np.flatnonzero(arr == 10)
        if len(nl):
            ends = nl + self.pos
            starts = np.concatenate(([self.rec_start], ends[:-1] + 1))
            before = np.where(nl > 0, arr[np.maximum(nl - 1, 0)], self.last)
            lens = ends - starts
            keep = ~((lens == 0) | ((lens == 1) & (before == 13)))
            if self.header_end is None and keep.any():
                first = int(np.flatnonzero(keep)[0])
                self._records(starts[keep])
                self.header_end = int(ends[first]) + 1
            else:
                self._records(starts[keep])
            self.rec_start = int(ends[-1]) + 1
        self.pos += len(chunk)
        self.last = int(arr[-1]) if len(arr) else self.last

    def finish(self, name: str) -> _Scan:
        tail = self.pos - self.rec_start
        if tail > 1 or (tail == 1 and self.last != 13):  # an unterminated last record
            if self.header_end is None:
                self.header_end = self.pos
            else:
                self._records(np.array([self.rec_start]))
        if self.header_end is None:
            raise PlanError(f"{name}: file is empty")
        if self.rows == 0:
            raise PlanError(f"{name}: has a header but no data rows")
        return _Scan(self.rows, self.header_end, self.pos, self.cuts)


def _scan_csv(name: str, uri: str, rows_before: int, size: int) -> _Scan:
    scanner = _CsvScanner(rows_before, size)
    with storage.open_read(uri) as f:
        while chunk := f.read(CHUNK):
            scanner.feed(chunk)
    return scanner.finish(name)


def _parquet_rows(name: str, uri: str) -> tuple[int, list[str]]:
    try:
        with storage.open_read(uri) as f:
            pf = pq.ParquetFile(f)
            return pf.metadata.num_rows, list(pf.schema_arrow.names)
    except (pa_arrow.ArrowException, OSError, ValueError) as e:
        raise PlanError(f"{name}: not a readable Parquet file ({_first_line(e)})") from None


def _csv_columns(header: bytes) -> list[str] | None:
    """A CSV header's names (None: not decodable here; reading the rows explains why)."""
    try:
        text = header.decode("utf-8-sig").strip()
        return next(csv.reader([text]), [])
    except (UnicodeDecodeError, csv.Error):
        return None


def _same_columns(name: str, columns: list[str], first: str, expected: list[str]) -> None:
    """One batch has one set of columns: a file that differs from the first is refused
    before any row is read (its rows would otherwise be quarantined as empty values)."""
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    if missing or extra:
        what = "; ".join(
            f"{k}: {', '.join(v)}" for k, v in (("missing", missing), ("extra", extra)) if v
        )
        raise PlanError(
            f"{name}: its columns differ from those of {first} ({what}); every file of a "
            "batch must have the same columns"
        )


def plan(
    files: list[tuple[str, str, str, str]], setting: PartitionRows, cores: int | None = None
) -> list[Partition]:
    """Partitions of ``setting`` input rows over ``files`` (name, landed uri, format, the name
    to use in messages), in order. ``auto``: sized by :func:`partition_size` for ``cores``
    (None: this machine's), from the batch's row count found by the same one scan (CSV
    record boundaries are kept every AUTO_STEP rows, the unit of every auto size)."""
    step = AUTO_STEP if setting == AUTO else max(1, int(setting))
    spans: list[tuple[str, str, str, int, _Scan, str]] = []
    total = 0
    first_columns: tuple[str, list[str]] | None = None
    for name, uri, fmt, label in files:
        if fmt == "csv":
            scan = _scan_csv(label, uri, total, step)
            columns = _csv_columns(storage.read_range(uri, 0, scan.header_end))
        else:
            rows, columns = _parquet_rows(label, uri)
            scan = _Scan(rows, 0, 0, {})
            if scan.rows == 0:
                raise PlanError(f"{label}: has no data rows")
        if columns is not None:
            first_columns = first_columns or (label, columns)
            _same_columns(label, columns, *first_columns)
        spans.append((name, uri, fmt, total, scan, label))
        total += scan.rows
    size = step
    if setting == AUTO:
        size = partition_size(AUTO, total, machine_cores() if cores is None else cores)
    parts = []
    for i, a in enumerate(range(0, total, size)):
        b = min(a + size, total)
        segs = []
        for name, uri, fmt, first, scan, label in spans:
            lo, hi = max(a, first) - first, min(b, first + scan.rows) - first
            if lo >= hi:
                continue
            if fmt == "csv":
                start = scan.header_end if lo == 0 else scan.cuts[lo]
                stop = scan.size if hi == scan.rows else scan.cuts[hi]
                segs.append(Segment(name, uri, fmt, lo, hi, start, stop, scan.header_end, label))
            else:
                segs.append(Segment(name, uri, fmt, lo, hi, label=label))
        parts.append(Partition(i, a, b, tuple(segs)))
    return parts


def plan_batch(raw: LandedRaw, setting: PartitionRows) -> list[Partition]:
    """Partitions of ``setting`` (storage.partition_rows: rows, or ``auto`` for this
    machine) over a landed batch's files (no rows loaded)."""
    return plan([(f.name, f.uri, f.format, f.source or f.name) for f in raw.files], setting)


def read_segment(seg: Segment) -> pd.DataFrame:
    """The raw rows of one segment, reading only its bytes or row groups."""
    if seg.format == "csv":
        data = storage.read_range(seg.uri, 0, seg.header_end)
        data += storage.read_range(seg.uri, seg.byte_start, seg.byte_stop)
        df = read_raw(data, seg.named, "csv")
    else:
        try:
            with storage.open_read(seg.uri) as f:
                pf = pq.ParquetFile(f)
                groups, first, at = [], 0, 0
                for g in range(pf.metadata.num_row_groups):
                    n = pf.metadata.row_group(g).num_rows
                    if at + n > seg.row_start and at < seg.row_stop:
                        first = at if not groups else first
                        groups.append(g)
                    at += n
                table = pf.read_row_groups(groups).slice(seg.row_start - first, seg.rows)
            df = table.to_pandas()
        except (pa_arrow.ArrowException, OSError, ValueError) as e:
            raise PlanError(
                f"{seg.named}: not a readable Parquet file ({_first_line(e)})"
            ) from None
    if len(df) != seg.rows:
        raise PlanError(
            f"{seg.named}: rows {seg.row_start}-{seg.row_stop} read as {len(df)} rows, not "
            f"{seg.rows}: the file changed after it was landed, or a CSV record is malformed"
        )
    return df


def read_partition(part: Partition) -> pd.DataFrame:
    """The raw rows of one partition (its segments in order), index 0..rows-1."""
    frames = [read_segment(s) for s in part.segments]
    if len(frames) == 1:
        return frames[0].reset_index(drop=True)
    return pd.concat(frames, ignore_index=True)


def iter_partitions(parts: list[Partition]) -> Iterator[tuple[Partition, pd.DataFrame]]:
    """Each partition with its raw rows, one at a time (memory: one partition)."""
    for p in parts:
        yield p, read_partition(p)


def iter_landed(uri: str, label: str, setting: PartitionRows) -> Iterator[pd.DataFrame]:
    """The rows of a landed raw batch (a file, or the folder of its files), partition by
    partition of ``setting`` rows (memory: one partition)."""
    files = storage.list_files(uri) if storage.is_prefix(uri) else [uri]
    named = [
        (
            f,
            f,
            "parquet" if f.endswith((".parquet", ".pq")) else "csv",
            label if len(files) == 1 else f,
        )
        for f in files
    ]
    for _, frame in iter_partitions(plan(named, setting)):
        yield frame


def locate(parts: list[Partition], input_row: int) -> tuple[Partition, Segment, int]:
    """Where input row ``input_row`` came from: its partition, raw file and row in that file."""
    for p in parts:
        if p.start <= input_row < p.stop:
            at = p.start
            for s in p.segments:
                if input_row < at + s.rows:
                    return p, s, s.row_start + input_row - at
                at += s.rows
    raise IndexError(f"input row {input_row} is not in this batch")
