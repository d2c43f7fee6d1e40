"""A task's peak memory is its own, not that of the process that started it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

CHILD = "from shared.flowkit.run import peak_rss_mib; print(peak_rss_mib())"


def test_a_task_started_by_a_large_process_reports_its_own_peak() -> None:
    held = np.ones(400 * 2**20 // 8)  # 400 MiB resident in this (the starting) process
    held[::4096] = 2.0
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
    child = float(out.stdout)
    assert 10 < child < 300, f"the child's peak {child:.0f} MiB counts its parent's 400 MiB"
    assert held.sum() > 0
