"""Operate: online capture. Every answer the service gives (or a sampled share of the
requests, ``capture.sample_rate``) is written in the background to partitioned Parquet:
``<data_root>/capture/alias=<alias>/date=<YYYY-MM-DD>/part-<time>-<id>.parquet``.

A request only hands its rows to a bounded in-memory queue (``capture.queue_rows`` answers
waiting at most) and never waits on storage. When the queue is full the answer is still
served and the capture drop is counted (``dropped``, in /health and the log), never silent.
A background thread writes batches of at most ``capture.batch_rows`` answers, or whatever is
waiting after ``capture.flush_seconds``; it also computes the shadow challenger's guarded
answers (shared.operate.shadow) so they cost the request nothing. Date partitions older
than ``capture.retention_days`` are deleted when the writer starts and once an hour.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from shared.config import CaptureSettings, ProjectConfig
from shared.data import storage
from shared.operate.captured import COLUMNS, capture_root, prune

log = logging.getLogger("renkei.capture")


@dataclass(frozen=True)
class Captured:
    """One request handed to the writer: who, what came in, what was answered."""

    request_id: str
    caller: str
    received_at: datetime
    deployment_id: int
    records: list[dict[str, Any]]
    answers: list[dict[str, Any]]


@dataclass
class CaptureCounts:
    """What happened to every answer: captured (written), dropped (queue full), sampled out."""

    requests: int = 0
    answers: int = 0
    sampled_out: int = 0
    queued: int = 0
    dropped: int = 0
    written: int = 0
    write_errors: int = 0
    files: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Shadow = Callable[[list[dict[str, Any]]], tuple[int, list[dict[str, Any]]] | None]


@dataclass
class CaptureWriter:
    """The bounded queue and the background batch writer of one service (one alias)."""

    root: str
    alias: str
    settings: CaptureSettings
    feature_names: list[str]
    timestamp_column: str
    shadow: Shadow | None = None  # records -> (shadow deployment id, its answers) or None
    counts: CaptureCounts = field(default_factory=CaptureCounts)

    def __post_init__(self) -> None:
        self._queue: queue.SimpleQueue[Captured | None] = queue.SimpleQueue()
        self._pending = 0  # answers queued and not yet written or failed
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._rng = random.Random()
        self._last_prune = 0.0
        self._last_drop_log = 0

    # request path ---------------------------------------------------------------------
    def offer(self, item: Captured) -> bool:
        """Hand one request's answers to the writer; False when sampled out or dropped."""
        n = len(item.answers)
        c = self.counts
        with self._lock:
            c.requests += 1
            c.answers += n
            if self.settings.sample_rate < 1.0 and self._rng.random() >= self.settings.sample_rate:
                c.sampled_out += n
                return False
            if self._pending + n > self.settings.queue_rows:
                c.dropped += n
                return False
            self._pending += n
            c.queued += n
        self._queue.put(item)
        return True

    # writer thread --------------------------------------------------------------------
    def start(self) -> threading.Thread:
        self.prune()
        self._thread = threading.Thread(
            target=self._loop, name=f"renkei-capture-{self.alias}", daemon=True
        )
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 30.0) -> None:
        """Write everything queued, then end the writer thread."""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        batch: list[Captured] = []
        rows = 0
        deadline: float | None = None  # when the oldest waiting answer must be written
        while True:
            wait = 3600.0 if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item: Captured | None | bool = self._queue.get(timeout=wait)
            except queue.Empty:
                item = False
            if isinstance(item, Captured):
                if not batch:
                    deadline = time.monotonic() + self.settings.flush_seconds
                batch.append(item)
                rows += len(item.answers)
            if batch and (not isinstance(item, Captured) or rows >= self.settings.batch_rows):
                days: dict[str, list[Captured]] = {}
                for c in batch:  # one file per day partition
                    days.setdefault(c.received_at.strftime("%Y-%m-%d"), []).append(c)
                for day, items in days.items():
                    self._write(day, items, sum(len(c.answers) for c in items))
                batch, rows, deadline = [], 0, None
            if item is None:
                return
            if time.monotonic() - self._last_prune > 3600:
                self.prune()

    def _write(self, day: str, batch: list[Captured], rows: int) -> None:
        try:
            frame = self.frame(batch)
            stamp = batch[0].received_at.strftime("%H%M%S")
            uri = storage.join(
                capture_root(self.root),
                f"alias={self.alias}",
                f"date={day}",
                f"part-{stamp}-{uuid.uuid4().hex[:12]}.parquet",
            )
            storage.write_parquet(frame, uri)
        except Exception as e:  # a failed write is counted and reported, the service goes on
            with self._lock:
                self._pending -= rows
                self.counts.write_errors += rows
                self.counts.last_error = f"{type(e).__name__}: {e}".splitlines()[0]
            log.error("capture: %d answers not written: %s", rows, self.counts.last_error)
            return
        with self._lock:
            self._pending -= rows
            self.counts.written += rows
            self.counts.files += 1
            dropped = self.counts.dropped
        if dropped > self._last_drop_log:
            log.warning(
                "capture: %d answers dropped so far (queue full: capture.queue_rows=%d)",
                dropped,
                self.settings.queue_rows,
            )
            self._last_drop_log = dropped

    def frame(self, batch: list[Captured]) -> pd.DataFrame:
        """One row per answer: the metadata, the features as received, the shadow answer."""
        out: dict[str, list[Any]] = {c: [] for c in COLUMNS}
        feats: dict[str, list[Any]] = {c: [] for c in [*self.feature_names, self.timestamp_column]}
        for item in batch:
            shadow = self.shadow(item.records) if self.shadow is not None else None
            for i, (rec, ans) in enumerate(zip(item.records, item.answers, strict=True)):
                out["request_id"].append(item.request_id)
                out["row_index"].append(i)
                out["row_id"].append(str(ans["row_id"]))
                out["caller"].append(item.caller)
                out["received_at"].append(item.received_at)
                out["alias"].append(self.alias)
                out["deployment_id"].append(item.deployment_id)
                out["model_version"].append(ans["model_version"])
                out["rules_version"].append(ans["rules_version"])
                out["prediction"].append(ans["prediction"])
                out["predicted_class"].append(ans["predicted_class"])
                out["decision"].append(ans["decision"])
                out["reasons"].append("; ".join(ans["reasons"]))
                s = shadow[1][i] if shadow is not None else None
                out["shadow_deployment_id"].append(shadow[0] if shadow is not None else None)
                out["shadow_version"].append(s["model_version"] if s else None)
                out["shadow_prediction"].append(s["prediction"] if s else None)
                out["shadow_predicted_class"].append(s["predicted_class"] if s else None)
                out["shadow_decision"].append(s["decision"] if s else None)
                out["shadow_reasons"].append("; ".join(s["reasons"]) if s else None)
                for name in feats:
                    feats[name].append(rec.get(name))
        frame = pd.DataFrame(out)
        frame["received_at"] = pd.to_datetime(frame["received_at"], utc=True)
        for name in ("deployment_id", "shadow_deployment_id"):
            frame[name] = frame[name].astype("Int64")
        for name in ("prediction", "shadow_prediction"):
            frame[name] = frame[name].astype("float64")
        ts = self.timestamp_column
        feats[ts] = [None if v is None else str(v) for v in feats[ts]]  # as received
        for name, values in feats.items():
            frame[name] = pd.Series(values)
        return frame

    def prune(self, today: date | None = None) -> int:
        """Delete date partitions older than ``retention_days``; how many were deleted."""
        self._last_prune = time.monotonic()
        try:
            return prune(self.root, self.settings.retention_days, today)
        except Exception as e:  # retention must never stop the service
            log.error("capture retention failed: %s", e)
            return 0


def writer_for(
    cfg: ProjectConfig, alias: str, data_root: str | None = None, shadow: Shadow | None = None
) -> CaptureWriter | None:
    """The service's capture writer (None when ``capture.enabled`` is false)."""
    if not cfg.capture.enabled:
        return None
    return CaptureWriter(
        data_root or cfg.storage.data_root,
        alias,
        cfg.capture,
        list(cfg.features),
        cfg.timestamp_column,
        shadow,
    )


def new_request_id() -> str:
    return uuid.uuid4().hex
