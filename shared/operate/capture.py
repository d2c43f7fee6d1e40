"""Operate: online capture, the service's side. Every answer the service gives (or a sampled
share of the requests, ``capture.sample_rate``) is written to partitioned Parquet:
``<data_root>/capture/alias=<alias>/date=<YYYY-MM-DD>/part-<time>-<id>.parquet``.

A request only counts its rows and hands them to a queue; a separate writer process
(shared.operate.capture_worker) builds the batches, computes the shadow challenger's answers
and writes, so neither storage nor that work shares the service's interpreter (its GIL)
with a request. At most ``capture.queue_rows`` answers wait: when the queue is full the
answer is still served and the capture drop is counted (``dropped``, in /health and the
log), never silent. A writer process that ends on its own (killed, crashed) is replaced in
the background, at most ``capture.writer_restarts`` times: the answers it held and those
offered while its successor starts are counted as dropped; /health shows the restarts. What the writer wrote or failed to write comes back through counters in
shared memory; its last error and the shadow's state through a small status block.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import random
import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from shared.config import CaptureSettings, ProjectConfig
from shared.ledger.releases import shadow_alias
from shared.operate.captured import prune

if TYPE_CHECKING:
    from shared.guard.bundle_sign import ReleaseKeys

log = logging.getLogger("renkei.capture")

# the writer process's counters (shared memory)
WRITTEN, WRITE_ERRORS, FILES, SHADOW_ERRORS = range(4)
STATUS_BYTES = 8192  # its status block: JSON {"last_error": ..., "shadow": {...}}


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
    shadow_errors: int = 0  # answers captured without the shadow's (it failed on them)
    last_error: str | None = None
    writer_running: bool = False  # false: the writer process is not (or no longer) running
    writer_pid: int | None = None
    writer_restarts: int = 0  # writer processes started after one ended on its own
    lost: int = 0  # answers queued to a writer that ended before writing them (in dropped)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WriterSpec:
    """What the writer process needs (picklable): where and how to write, and the ledger
    where it looks up the shadow challenger beside ``alias`` (None: no shadow)."""

    root: str
    alias: str
    settings: CaptureSettings
    features: dict[str, str]  # name -> type (config features: float, int, bool, ...)
    timestamp_column: str
    ledger_url: str | None = None
    check_every: float = 1.0
    classes: tuple[str, ...] = ()  # multiclass tasks: the class set and probabilities too
    keys: ReleaseKeys | None = None  # the release keys the shadow's bundle is verified with


class CaptureWriter:
    """The bounded queue of one service (one alias) and its writer process."""

    def __init__(self, spec: WriterSpec) -> None:
        self.spec = spec
        self._ctx = mp.get_context("spawn")  # a fresh interpreter: no threads forked
        self._queue = self._ctx.Queue()
        self._done = self._ctx.RawArray("q", 4)
        self._status = self._ctx.Array("c", STATUS_BYTES)
        self._ready = self._ctx.Event()
        self._process: Any = None  # the spawn context's Process
        self._restarts = 0  # writer processes started to replace one that ended
        self._local = CaptureCounts()
        self._lock = threading.Lock()
        self._rng = random.Random()
        self._gone = False  # the writer process ended before stop(): none runs until replaced
        self._stopped = False

    # request path ---------------------------------------------------------------------
    def offer(self, item: Captured) -> bool:
        """Hand one request's answers to the writer; False when sampled out or dropped."""
        n = len(item.answers)
        c = self._local
        with self._lock:
            c.requests += 1
            c.answers += n
            if self.spec.settings.sample_rate < 1.0 and (
                self._rng.random() >= self.spec.settings.sample_rate
            ):
                c.sampled_out += n
                return False
            gone = self._writer_gone()
            if gone or self._pending() + n > self.spec.settings.queue_rows:
                c.dropped += n
                if c.dropped == n or c.dropped // 1000 != (c.dropped - n) // 1000:
                    log.warning(
                        "capture: %d answers dropped so far (%s)",
                        c.dropped,
                        "no writer process"
                        if gone
                        else f"queue full: capture.queue_rows={self.spec.settings.queue_rows}",
                    )
                return False
            c.queued += n
            q = self._queue
        try:
            q.put(item)  # pickled and sent by the queue's feeder thread
        except (ValueError, OSError):  # closed by a restart since: that writer ended
            with self._lock:
                c.queued -= n
                c.dropped += n
            return False
        return True

    # the writer process ---------------------------------------------------------------
    def start(self, ready_timeout: float = 120.0) -> None:
        """Start the writer process and wait until it is ready (its shadow loaded)."""
        self._process = self._spawn(self._queue, self._ready, ready_timeout)

    def _spawn(self, q: Any, ready: Any, ready_timeout: float) -> Any:
        """A writer process reading ``q``, once it is ready or has failed at start (logged)."""
        from shared.operate.capture_worker import run_writer

        process = self._ctx.Process(
            target=run_writer,
            args=(self.spec, q, self._done, self._status, ready),
            name=f"renkei-capture-{self.spec.alias}",
            daemon=True,
        )
        process.start()
        began = time.monotonic()
        deadline = began + ready_timeout
        while not ready.wait(0.1):
            if not process.is_alive():
                log.error("capture: the writer process ended at start (see its error above)")
                return process
            if time.monotonic() > deadline:
                log.error("capture: the writer process is not ready after %.0f s", ready_timeout)
                return process
        log.info(
            "capture: writer process %d ready in %.1f s", process.pid, time.monotonic() - began
        )
        return process

    def _restart(self) -> None:
        """Replace a writer process that ended on its own (a thread of its own: requests go
        on meanwhile, their answers counted as dropped until the new process is ready)."""
        old = self._queue
        old.cancel_join_thread()  # nobody reads it any more: its feeder must not hold up exit
        q, ready = self._ctx.Queue(), self._ctx.Event()
        process = self._spawn(q, ready, 120.0)
        with self._lock:
            self._restarts += 1
            if self._stopped or not ready.is_set():
                process.terminate()
                q.cancel_join_thread()
                return
            self._queue, self._ready, self._process = q, ready, process
            self._gone = False
        old.close()
        log.warning("capture: writer process %d replaces the one that ended", process.pid)

    def _pending(self) -> int:
        """Answers queued and not yet written or failed (the lock is held)."""
        written = self._done[WRITTEN] + self._done[WRITE_ERRORS]
        return self._local.queued - written - self._local.lost

    def _writer_gone(self) -> bool:
        """True once the writer process has ended on its own (killed, crashed) and no new
        one is ready yet: the answers it held are counted as dropped, once, the log says so,
        and a new process is started while ``capture.writer_restarts`` allows (the lock is
        held)."""
        if self._stopped or self._gone:
            return True
        if self._process is None or self._process.exitcode is None:
            return False
        self._gone = True
        pending = self._pending()
        self._local.dropped += pending
        self._local.lost += pending
        again = self._restarts < self.spec.settings.writer_restarts
        log.error(
            "capture: the writer process ended (exit code %s); %d waiting answers lost; %s",
            self._process.exitcode,
            pending,
            "starting a new one"
            if again
            else "every later answer is not captured: restart the service "
            f"(capture.writer_restarts={self.spec.settings.writer_restarts} used)",
        )
        if again:
            threading.Thread(
                target=self._restart, name="renkei-capture-restart", daemon=True
            ).start()
        return True

    def stop(self, timeout: float | None = None) -> None:
        """Write everything queued, then end the writer process: within ``timeout`` seconds
        (``capture.drain_seconds``); what it has not written by then is counted as dropped."""
        timeout = self.spec.settings.drain_seconds if timeout is None else timeout
        with self._lock:
            if self._process is None or self._writer_gone():
                self._stopped = True  # a restart under way ends its new process
                return
            self._stopped = True
        self._queue.put(None)
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(10)
            self._queue.cancel_join_thread()
            with self._lock:
                lost = max(0, self._pending())
                self._local.dropped += lost
            log.error(
                "capture: the writer did not drain within %.0f s (capture.drain_seconds); "
                "%d answers not written, counted as dropped",
                timeout,
                lost,
            )
        self._queue.close()

    # what /health reports ---------------------------------------------------------------
    @property
    def counts(self) -> CaptureCounts:
        with self._lock:
            self._writer_gone()
            c = replace(self._local)
        c.written, c.write_errors, c.files, c.shadow_errors = (
            self._done[WRITTEN],
            self._done[WRITE_ERRORS],
            self._done[FILES],
            self._done[SHADOW_ERRORS],
        )
        c.last_error = self._read_status().get("last_error")
        c.writer_running = self._process is not None and self._process.is_alive()
        c.writer_pid = self._process.pid if self._process is not None else None
        c.writer_restarts = self._restarts
        if self._gone:
            c.last_error = f"the capture writer process ended (exit code {self._process.exitcode})"
        return c

    def shadow_state(self) -> dict[str, Any]:
        """The shadow challenger as the writer process holds it (none attached: no model)."""
        none = {"status": "no_model", "alias": shadow_alias(self.spec.alias), "model_version": None}
        return self._read_status().get("shadow") or none

    def _read_status(self) -> dict[str, Any]:
        with self._status.get_lock():
            raw = self._status.value
        try:
            return json.loads(raw) if raw else {}
        except ValueError:  # never expected (the writer publishes whole JSON); /health stays up
            return {"last_error": "unreadable capture writer status"}

    def prune(self, today: date | None = None) -> int:
        """Delete date partitions older than ``retention_days``; how many were deleted."""
        return prune(self.spec.root, self.spec.settings.retention_days, today)


def writer_for(
    cfg: ProjectConfig,
    alias: str,
    data_root: str | None = None,
    ledger_url: str | None = None,
    check_every: float = 1.0,
    keys: ReleaseKeys | None = None,
) -> CaptureWriter | None:
    """The service's capture writer (None when ``capture.enabled`` is false); with
    ``ledger_url`` its process also answers for the shadow challenger beside ``alias``."""
    if not cfg.capture.enabled:
        return None
    spec = WriterSpec(
        data_root or cfg.storage.data_root,
        alias,
        cfg.capture,
        {name: f.type for name, f in cfg.features.items()},
        cfg.timestamp_column,
        ledger_url,
        check_every,
        tuple(cfg.classes or ()),
        keys,
    )
    return CaptureWriter(spec)


def new_request_id() -> str:
    return uuid.uuid4().hex
