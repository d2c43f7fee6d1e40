"""Operate: the capture writer process (started by shared.operate.capture.CaptureWriter).

It takes captured requests off the queue, answers them with the shadow challenger when one
is attached beside the alias (its own :class:`AliasHolder`, refreshed in the background),
and writes batches of at most ``capture.batch_rows`` answers, or whatever waits after
``capture.flush_seconds``, one Parquet file per day partition. Written and failed answers
are counted in shared memory; the last error and the shadow's state go to the status block.
Date partitions older than ``capture.retention_days`` are deleted at start and once an hour.
The process runs at a lower priority (nice 10): when the cores are busy, answers go first.
The service's stop sends ``None``: everything queued is written first. If the service dies
without it, the process writes what it holds and ends.
"""

from __future__ import annotations

import io
import json
import logging
import math
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
import uuid
from functools import cached_property
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from shared.data import storage
from shared.operate.capture import (
    FILES,
    SHADOW_ERRORS,
    STATUS_BYTES,
    WRITE_ERRORS,
    WRITTEN,
    Captured,
    WriterSpec,
)
from shared.operate.captured import COLUMNS, capture_root, prune
from shared.operate.holder import AliasHolder, one_line

log = logging.getLogger("renkei.capture")

_ANSWER = ("prediction", "predicted_class", "decision")  # and shadow_<name> beside them
_FEATURE_TYPES = {
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "category": pa.string(),
    "str": pa.string(),
}


def run_writer(spec: WriterSpec, q: Any, done: Any, status: Any, ready: Any) -> None:
    """The process's body: prune, load the shadow, say ready, write until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the service, which drains us
    os.nice(10)  # background work: when the cores are busy, answering requests goes first
    worker = _Worker(spec, done, status)
    worker.prune()
    worker.watch_shadow()
    ready.set()
    worker.loop(q)


def _as_declared(values: list[Any], kind: str) -> list[Any]:
    """A captured feature column in its declared type: a value the request sent with another
    type (the guard rejected its row, naming the check) is kept as null; text stays text."""
    if kind in ("category", "str"):
        return [v if v is None or type(v) is str else str(v) for v in values]
    if kind == "bool":
        return [v if type(v) is bool else None for v in values]
    out: list[Any] = []
    for v in values:
        try:
            x = float(v) if type(v) in (int, float, str) else float("nan")
        except (ValueError, OverflowError):
            x = float("nan")
        if not math.isfinite(x) or (kind == "int" and (not x.is_integer() or abs(x) >= 2**63)):
            out.append(None)
        else:
            out.append(int(x) if kind == "int" else x)
    return out


class _Worker:
    def __init__(self, spec: WriterSpec, done: Any, status: Any) -> None:
        self.spec, self.done, self.status = spec, done, status
        self.state: dict[str, Any] = {}
        self.lock = threading.Lock()  # the loop and the shadow's watcher both publish
        self.shadow: AliasHolder | None = None
        self.last_prune = 0.0

    def publish(self, **changes: Any) -> None:
        """Update the status block the service reads (/health): always whole JSON."""
        with self.lock:
            self.state.update(changes)
            raw = json.dumps(self.state, default=str).encode()
            if len(raw) >= STATUS_BYTES:  # long error texts: keep their first line's start
                short = json.loads(raw, parse_constant=str)
                _shorten(short, 200)
                raw = json.dumps(short).encode()[: STATUS_BYTES - 1]
            with self.status.get_lock():
                self.status.value = raw

    def watch_shadow(self) -> None:
        if self.spec.ledger_url is None or self.spec.keys is None:
            return
        from shared.ledger import Ledger
        from shared.ledger.releases import shadow_alias

        ledger = Ledger.open(self.spec.ledger_url)
        name, every = shadow_alias(self.spec.alias), self.spec.check_every
        self.shadow = AliasHolder(ledger, name, every, self.spec.keys)
        self.shadow.refresh()
        self.publish(shadow=self.shadow.state())
        self.shadow.watch(after=lambda: self.publish(shadow=self.shadow.state()))

    def loop(self, q: Any) -> None:
        parent = mp.parent_process()
        batch: list[Captured] = []
        rows = 0
        deadline: float | None = None  # when the oldest waiting answer must be written
        while True:
            wait = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            try:
                item: Captured | None | bool = q.get(timeout=wait)
            except queue.Empty:
                item = False
                if parent is not None and not parent.is_alive():
                    item = None  # the service is gone: write what we hold and end
            if isinstance(item, Captured):
                if not batch:
                    deadline = time.monotonic() + self.spec.settings.flush_seconds
                batch.append(item)
                rows += len(item.answers)
            due = deadline is not None and time.monotonic() >= deadline
            if batch and (item is None or due or rows >= self.spec.settings.batch_rows):
                days: dict[str, list[Captured]] = {}
                for c in batch:  # one file per day partition
                    days.setdefault(c.received_at.strftime("%Y-%m-%d"), []).append(c)
                for day, items in days.items():
                    self._write(day, items, sum(len(c.answers) for c in items))
                batch, rows, deadline = [], 0, None
            if item is None:
                return
            if time.monotonic() - self.last_prune > 3600:
                self.prune()

    def _write(self, day: str, batch: list[Captured], rows: int) -> None:
        try:
            buf = io.BytesIO()
            pq.write_table(self.table(batch), buf)
            stamp = batch[0].received_at.strftime("%H%M%S")
            uri = storage.join(
                capture_root(self.spec.root),
                f"alias={self.spec.alias}",
                f"date={day}",
                f"part-{stamp}-{uuid.uuid4().hex[:12]}.parquet",
            )
            storage.write_bytes(uri, buf.getvalue())
        except Exception as e:  # a failed write is counted and reported, the service goes on
            self.done[WRITE_ERRORS] += rows
            self.publish(last_error=f"{type(e).__name__}: {one_line(e)}")
            log.error("capture: %d answers not written: %s", rows, self.state["last_error"])
            return
        self.done[FILES] += 1
        self.done[WRITTEN] += rows

    def _shadow_answers(self, batch: list[Captured]) -> list[tuple[int, list[dict]] | None]:
        """The challenger's answers to each request of a batch (None: no shadow, or it
        failed on that request's rows: production's answers are still captured, the failure
        is reported). One guarded call for the whole batch (the guard answers row by row);
        if it fails, request by request, so one request's rows cannot cost the others'."""
        if self.shadow is None:
            return [None] * len(batch)
        dep, model = self.shadow.get()
        if dep is None or model is None:
            return [None] * len(batch)
        try:
            answers = model.predict_records([r for c in batch for r in c.records])
        except Exception:  # find the failing request(s) below
            return [self._shadow_request(dep, model, c.records) for c in batch]
        out, at = [], 0
        for c in batch:
            out.append((dep.id, answers[at : at + len(c.records)]))
            at += len(c.records)
        return out

    def _shadow_request(
        self, dep: Any, model: Any, records: list[dict[str, Any]]
    ) -> tuple[int, list[dict]] | None:
        try:
            return dep.id, model.predict_records(records)
        except Exception as e:  # the challenger must never cost production's record
            self.done[SHADOW_ERRORS] += len(records)
            self.publish(last_error=f"shadow {dep.version}: {type(e).__name__}: {one_line(e)}")
            log.error("capture: shadow %s failed on %d rows: %s", dep.version, len(records), e)
            return None

    def table(self, batch: list[Captured]) -> pa.Table:
        """One row per answer: the metadata, the features as received, the shadow answer
        (built column by column straight into Arrow: no pandas frame per flush)."""
        schema = self.schema
        cols: dict[str, list[Any]] = {name: [] for name in schema.names}
        features = [*self.spec.features, self.spec.timestamp_column]
        for item, shadow in zip(batch, self._shadow_answers(batch), strict=True):
            n = len(item.answers)
            answers = shadow[1] if shadow is not None else [None] * n
            cols["request_id"] += [item.request_id] * n
            cols["row_index"] += range(n)
            cols["caller"] += [item.caller] * n
            cols["received_at"] += [item.received_at] * n
            cols["alias"] += [self.spec.alias] * n
            cols["deployment_id"] += [item.deployment_id] * n
            cols["shadow_deployment_id"] += [shadow[0] if shadow else None] * n
            for ans, s in zip(item.answers, answers, strict=True):
                cols["row_id"].append(str(ans["row_id"]))
                cols["model_version"].append(ans["model_version"])
                cols["rules_version"].append(ans["rules_version"])
                cols["shadow_version"].append(s["model_version"] if s else None)
                cols["reasons"].append("; ".join(ans["reasons"]))
                cols["shadow_reasons"].append("; ".join(s["reasons"]) if s else None)
                for name in _ANSWER:
                    cols[name].append(ans[name])
                    cols[f"shadow_{name}"].append(s[name] if s else None)
            for name in features:
                cols[name] += [rec.get(name) for rec in item.records]
            if self.spec.classes:  # multiclass: the set and each class's probability
                _class_columns(cols, item.answers, self.spec.classes)
        for name, kind in self.spec.features.items():  # a value of another type: null
            cols[name] = _as_declared(cols[name], kind)
        ts = self.spec.timestamp_column  # kept as received (text)
        cols[ts] = [None if v is None else str(v) for v in cols[ts]]
        return pa.Table.from_pydict(cols, schema=schema)

    @cached_property
    def schema(self) -> pa.Schema:
        """The captured files' columns and Arrow types (the same in every file)."""
        text = {"request_id", "row_id", "caller", "alias", "model_version", "rules_version"}
        text |= {"decision", "reasons", "shadow_version", "shadow_decision", "shadow_reasons"}
        types = {
            "row_index": pa.int64(),
            "received_at": pa.timestamp("ns", tz="UTC"),
            "deployment_id": pa.int64(),
            "shadow_deployment_id": pa.int64(),
            "prediction": pa.float64(),
            "shadow_prediction": pa.float64(),
            "predicted_class": pa.string() if self.spec.classes else pa.bool_(),
            "shadow_predicted_class": pa.string() if self.spec.classes else pa.bool_(),
        } | {name: pa.string() for name in text}
        fields = [pa.field(name, types[name]) for name in COLUMNS]
        fields += [pa.field(n, _FEATURE_TYPES[t]) for n, t in self.spec.features.items()]
        if self.spec.classes:
            fields.append(pa.field("prediction_set", pa.string()))
            fields += [pa.field(f"p_{c}", pa.float64()) for c in self.spec.classes]
        return pa.schema([*fields, pa.field(self.spec.timestamp_column, pa.string())])

    def prune(self) -> None:
        self.last_prune = time.monotonic()
        try:
            prune(self.spec.root, self.spec.settings.retention_days)
        except Exception as e:  # retention must never stop the writer
            log.error("capture retention failed: %s", one_line(e))


def _shorten(value: dict[str, Any], limit: int) -> None:
    """Cut every text in a nested dict to ``limit`` characters, in place."""
    for key, v in value.items():
        if isinstance(v, str) and len(v) > limit:
            value[key] = v[:limit] + "..."
        elif isinstance(v, dict):
            _shorten(v, limit)


def _class_columns(
    cols: dict[str, list[Any]], answers: list[dict[str, Any]], classes: tuple[str, ...]
) -> None:
    """A multiclass answer's prediction set (as text, "a|b") and class probabilities."""
    for ans in answers:
        s, probs = ans.get("prediction_set"), ans.get("probabilities") or {}
        cols["prediction_set"].append("|".join(s) if s else None)
        for c in classes:
            cols[f"p_{c}"].append(probs.get(c))
