"""Demo benchmark: wall time of the demo (`make demo` after install: scripts/demo.sh).

Runs the demo in a fresh copy of the working tree (its own data/ and ledger), so nothing of
yours is touched. Goal: <= 3 min.

    python bench/bench_demo.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_table  # noqa: E402

GOAL_S = 180.0


def command_times(trace: str) -> list[tuple[float, str]]:
    """(seconds, command) of each command the demo's scripts ran, from their xtrace lines
    (``+<EPOCHREALTIME> command``): a command lasts until the next one starts."""
    starts = []
    for line in trace.splitlines():
        head, _, cmd = line.partition(" ")
        if head.startswith("+") and not head.startswith("++"):
            try:
                starts.append((float(head.lstrip("+")), cmd))
            except ValueError:
                continue
    return [(b[0] - a[0], a[1]) for a, b in zip(starts, starts[1:], strict=False)]


def measure(log: Path | None = None, times: list[tuple[float, str]] | None = None) -> float:
    """Seconds the demo takes in a fresh copy of the working tree; ``times`` gets the
    seconds of each command (bash's xtrace, with ``SHELLOPTS`` and ``BASH_ENV`` reaching the
    scripts it calls)."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in filter(None, files):
            if (REPO / name).is_file():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, root / name)
        env = {k: v for k, v in os.environ.items() if k != "RENKEI_LEDGER_URL"}
        env.update(
            PY=sys.executable,
            RENKEI=f"{sys.executable} -m shared.cli",
            PYTHONPATH=str(root),
            METAFLOW_USER=env.get("METAFLOW_USER") or "renkei",
            SHELLOPTS="xtrace",  # every script the demo runs traces its commands, timed:
            BASH_ENV=str(root / "demo.ps4"),  # (bash ignores PS4 from the environment as root)
        )
        (root / "demo.ps4").write_text("PS4='+$EPOCHREALTIME '\n")
        trace = root / "demo.trace"
        out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
        t0 = time.perf_counter()
        try:
            with open(trace, "w") as err:
                subprocess.run(
                    ["bash", "scripts/demo.sh"],
                    cwd=root,
                    env=env,
                    check=True,
                    stdout=out,
                    stderr=err,
                )
        finally:
            if log:  # the demo's stderr (its errors among the trace) follows its stdout
                out.write(trace.read_text())
                out.close()
        seconds = time.perf_counter() - t0
        if times is not None:
            times.extend(command_times(trace.read_text()))
        return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--log", type=Path, help="write the demo's output here")
    args = ap.parse_args()
    times: list[tuple[float, str]] = []
    seconds = measure(args.log, times)
    write_table(
        "demo",
        "Demo: scripts/demo.sh (make demo after install), and its slowest commands",
        [["demo", f"{seconds:.0f}", f"{GOAL_S:.0f}", f"{seconds / GOAL_S:.2f}"]]
        + [[f"  `{cmd[:90]}`", f"{s:.1f}", "", ""] for s, cmd in sorted(times, reverse=True)[:15]],
        ["what", "seconds", "goal s", "ratio to goal"],
    )


if __name__ == "__main__":
    main()
