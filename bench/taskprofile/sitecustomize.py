"""Per-process profile of a flow's tasks (bench/profile_tasks.py puts this folder first on
PYTHONPATH and sets RENKEI_PROFILE_DIR; otherwise this module does nothing).

Every Python process the flow starts (the `run` command, each `step` task, each `card
create`) writes to RENKEI_PROFILE_DIR, named by its pid:
  <pid>.json     argv, start (the process's own start, from /proc) and end, epoch seconds
  <pid>.imports  `python -X importtime` lines (when PYTHONPROFILEIMPORTTIME=1): the C-level
                 stderr (fd 2) goes to this file, Python's sys.stderr to the real stderr
  <pid>.prof     cProfile statistics (when RENKEI_PROFILE_CPROFILE=1)
"""

from __future__ import annotations

import os

_DIR = os.environ.get("RENKEI_PROFILE_DIR")


def _process_start() -> float:
    """Epoch seconds at which this process started: now less its age, both ages read from
    /proc on the boot clock (10 ms ticks); now if /proc cannot be read."""
    import time

    now = time.time()
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return now - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return now


def _install(folder: str) -> None:
    import atexit
    import json
    import sys
    import time

    pid = os.getpid()
    base = os.path.join(folder, str(pid))
    start = _process_start()
    if os.environ.get("PYTHONPROFILEIMPORTTIME") == "1":
        real = os.dup(2)
        fd = os.open(base + ".imports", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
        sys.stderr = open(real, "w", buffering=1, closefd=False)  # noqa: SIM115
    prof = None
    if os.environ.get("RENKEI_PROFILE_CPROFILE") == "1":
        import cProfile

        prof = cProfile.Profile()

    def done() -> None:
        if prof is not None:
            prof.disable()
            prof.dump_stats(base + ".prof")
        with open(base + ".json", "w") as f:
            json.dump({"argv": sys.argv, "start": start, "end": time.time()}, f)

    atexit.register(done)
    if prof is not None:
        prof.enable()


if _DIR:
    _install(_DIR)
