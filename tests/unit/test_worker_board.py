"""The workers' board (shared.operate.workers): a worker that died, went silent or stopped
shows as such to every other worker, and the service's status and capture totals say so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from shared.operate import workers
from shared.operate.workers import WorkerBoard


def _counts(**kw: int) -> dict:
    base = dict.fromkeys(workers._SUMMED, 0)
    return {**base, **kw, "writer_running": True, "writer_pid": 1, "last_error": None}


def _state(pid: int, status: str, at: float, **capture: int) -> dict:
    return {
        "pid": pid,
        "at": at,
        "status": status,
        "model_version": "v1",
        "capture": _counts(**capture),
    }


def test_dead_stale_and_stopped_workers_show_and_count(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        now = time.time()
        files = {
            gone.pid: _state(gone.pid, "ok", now, answers=10, queued=10, written=6),
            sleeper.pid: _state(sleeper.pid, "ok", now - workers.STALE_SECONDS - 5, answers=3),
            4242424: {**_state(4242424, "stopped", now, answers=2, queued=2, written=2)},
        }
        for pid, s in files.items():
            (tmp_path / f"{pid}.json").write_text(json.dumps(s))
        board = WorkerBoard(tmp_path, expected=2)
        board.publish({"status": "ok", "model_version": "v1", "capture": _counts(answers=5)})
        own = {"status": "ok", "alias": "production", "model_version": "v1"}
        h = board.health({**own, "capture": _counts(answers=5, queued=5, written=5)})
        by_pid = {w["pid"]: w["status"] for w in h["workers"]}
        assert by_pid == {
            gone.pid: "dead",
            sleeper.pid: "stale",
            4242424: "stopped",
            os.getpid(): "ok",
        }
        # alive: this worker and the stale one; a stale one makes the service degraded
        assert h["status"] == "degraded" and h["workers_alive"] == 2
        c = h["capture"]
        assert c["answers"] == 20 and c["written"] == 13
        assert c["dropped"] == 4  # what waited for the dead worker's writer went with it
    finally:
        sleeper.kill()
        sleeper.wait()
    # the stale worker gone as well: fewer alive than expected is degraded too
    h = board.health({**own, "capture": _counts()})
    assert h["status"] == "degraded" and h["workers_alive"] == 1
    # a board of one healthy worker
    solo = WorkerBoard(tmp_path / "solo", expected=1)
    solo.dir.mkdir()
    assert solo.health({**own, "capture": _counts()})["status"] == "ok"
