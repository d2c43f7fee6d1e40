"""Operate: the scoring service's worker processes, as each sees the others.

``renkei serve --workers N`` (default: the cores) runs N uvicorn worker processes on one
socket under uvicorn's supervisor, which restarts a worker that dies. Each worker has its
own alias watch, capture writer process (and the shadow challenger in it) and token cache.

So that no worker can hide another's failure, each one writes its state (status, version,
capture counts, shadow) once a second to a file of its own in a small directory the serve
command makes (the board), and /health on any worker reads them all: a worker whose process
is gone shows as ``dead``, one that stopped writing (a hung event loop) as ``stale``, and the
service is ``degraded`` while any worker is degraded or stale or fewer than N are alive.
The capture counts in /health are the totals over every worker (a dead worker's answers
still waiting for its writer count as dropped: they went with it).

A worker whose supervisor is gone (killed without a chance to stop its workers) stops
itself, gracefully, at its next heartbeat.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

log = logging.getLogger("renkei.serve")

HEARTBEAT_SECONDS = 1.0  # how often each worker writes its state
STALE_SECONDS = 10.0  # a live worker silent this long is shown as stale (degraded)
FORGET_SECONDS = 3600.0  # a dead or stopped worker is listed this long, then forgotten
ENV = "RENKEI_SERVE"  # the serve command's settings, for the workers it starts
_SUMMED = (
    "requests",
    "answers",
    "sampled_out",
    "queued",
    "dropped",
    "written",
    "write_errors",
    "files",
    "shadow_errors",
    "writer_restarts",
    "lost",
)


class WorkerStatus(StrEnum):
    OK = "ok"
    NO_MODEL = "no_model"
    DEGRADED = "degraded"  # serving the last good bundle, or not capturing
    STALE = "stale"  # alive, but has not written its state for STALE_SECONDS
    DEAD = "dead"  # its process is gone without stopping
    STOPPED = "stopped"  # shut down cleanly (its capture drained)


GONE = (WorkerStatus.DEAD, WorkerStatus.STOPPED)


@dataclass(frozen=True)
class ServeSpec:
    """What every worker of one ``renkei serve`` needs (passed in the environment)."""

    project: str  # the project folder or its project.yaml
    ledger_url: str
    alias: str
    workers: int
    board: str  # the directory the workers write their state to

    def environ(self) -> dict[str, str]:
        return {ENV: json.dumps(asdict(self))}

    @classmethod
    def from_env(cls) -> ServeSpec:
        raw = os.environ.get(ENV)
        if not raw:
            raise RuntimeError(f"{ENV} is not set: start the service with `renkei serve`")
        return cls(**json.loads(raw))


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class WorkerBoard:
    """The directory where each worker of one service writes its state, one file each."""

    def __init__(self, directory: str | Path, expected: int) -> None:
        self.dir, self.expected = Path(directory), expected

    def publish(self, state: dict[str, Any]) -> None:
        """Write this worker's state (atomically: readers see the old file or the new)."""
        pid = os.getpid()
        body = json.dumps({**state, "pid": pid, "at": time.time()}, default=str)
        tmp = self.dir / f".{pid}.tmp"
        tmp.write_text(body)
        os.replace(tmp, self.dir / f"{pid}.json")

    def others(self) -> list[dict[str, Any]]:
        """Every other worker's last state, its status judged from its process and age."""
        now, me, out = time.time(), os.getpid(), []
        for path in sorted(self.dir.glob("*.json")):
            try:
                s = json.loads(path.read_text())
            except (OSError, ValueError):  # forgotten meanwhile
                continue
            if s["pid"] == me:
                continue
            age = now - s["at"]
            if s["status"] != WorkerStatus.STOPPED:
                if not _alive(s["pid"]):
                    s["status"] = WorkerStatus.DEAD
                elif age > STALE_SECONDS:
                    s["status"] = WorkerStatus.STALE
            if s["status"] in GONE and age > FORGET_SECONDS:
                path.unlink(missing_ok=True)
                continue
            s["heartbeat_age_s"] = round(age, 1)
            out.append(s)
        return out

    def health(self, own: dict[str, Any]) -> dict[str, Any]:
        return merge(own, self.others(), self.expected)


def merge(own: dict[str, Any], others: list[dict[str, Any]], expected: int) -> dict[str, Any]:
    """/health: this worker's state (live) with every worker listed, the service's status
    (the worst of them) and the capture totals over all of them."""
    me = {**own, "pid": os.getpid(), "heartbeat_age_s": 0.0}
    everyone = sorted([me, *others], key=lambda w: w["pid"])
    live = [w for w in everyone if w["status"] not in GONE]
    status = own["status"]
    troubled = (WorkerStatus.DEGRADED, WorkerStatus.STALE)
    if len(live) < expected or any(w["status"] in troubled for w in live):
        status = WorkerStatus.DEGRADED.value
    out = {**own, "status": status, "worker": me["pid"], "workers_expected": expected}
    out["workers_alive"] = len(live)
    out["workers"] = [_summary(w) for w in everyone]
    if own.get("capture") is not None:
        out["capture"] = _totals(own["capture"], others)
    return out


def _summary(w: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "pid",
        "status",
        "model_version",
        "deployment_id",
        "failed",
        "heartbeat_age_s",
        "intervals",  # the adaptive factor each worker answers with, and its update
    )
    out = {k: w[k] for k in keep if k in w}
    shadow = w.get("shadow") or {}
    out["shadow_version"] = shadow.get("model_version")
    c = w.get("capture")
    if c is not None:
        out["capture"] = {k: c[k] for k in (*_SUMMED, "writer_running", "writer_pid", "last_error")}
    return out


def _totals(own: dict[str, Any], others: list[dict[str, Any]]) -> dict[str, Any]:
    """Capture counts over every worker; this worker's writer pid (writer_running: every
    live worker's writer runs)."""
    out = dict(own)
    for w in others:
        c = w.get("capture")
        if c is None:
            continue
        for k in _SUMMED:
            out[k] += c[k]
        if w["status"] == WorkerStatus.DEAD:  # what waited for its writer went with it
            out["dropped"] += max(0, c["queued"] - c["written"] - c["write_errors"] - c["lost"])
        elif w["status"] != WorkerStatus.STOPPED:
            out["writer_running"] = out["writer_running"] and c["writer_running"]
        out["last_error"] = out["last_error"] or c["last_error"]
    return out


async def heartbeat(
    board: WorkerBoard, state: Callable[[], dict[str, Any]], supervised: bool
) -> None:
    """Write this worker's state every HEARTBEAT_SECONDS (from the event loop: a hung loop
    shows as stale); a supervised worker whose supervisor is gone stops itself."""
    parent = os.getppid()
    while True:
        try:
            board.publish(state())
        except OSError as e:  # /health on the others shows this worker stale
            log.error("cannot write this worker's state to %s: %s", board.dir, e)
        if supervised and os.getppid() != parent:
            log.error("the serve process %d is gone: this worker stops", parent)
            signal.raise_signal(signal.SIGTERM)  # uvicorn's graceful shutdown
            return
        await asyncio.sleep(HEARTBEAT_SECONDS)
