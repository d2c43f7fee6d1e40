"""`renkei app` as users start it: the command becomes Streamlit's process, so stopping it
(as a supervisor or Ctrl-C would) stops the app, with no server left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, free_port, wait_for_http, write_project

RENKEI = str(Path(sys.executable).with_name("renkei"))

pytestmark = pytest.mark.slow


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2, trust_env=False).status_code == 200
    except httpx.TransportError:
        return False


def test_killing_renkei_app_stops_the_app(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [RENKEI, "--project", str(project), "app", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "RENKEI_LEDGER_URL": ""},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the finally below leaves nothing
    )
    health = f"http://127.0.0.1:{port}/_stcore/health"
    try:
        wait_for_http(health, proc, timeout=120)
        # the process we started is the server itself, not a parent waiting on a child
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"streamlit" in cmdline, cmdline
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.time() + 30
        while _answers(health) and time.time() < deadline:
            time.sleep(0.5)
        assert not _answers(health), "the app still answers after `renkei app` was killed"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # an orphaned server (the old behaviour)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)
