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


def measure(log: Path | None = None) -> float:
    """Seconds the demo takes in a fresh copy of the working tree."""
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
        )
        out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
        t0 = time.perf_counter()
        try:
            subprocess.run(
                ["bash", "scripts/demo.sh"], cwd=root, env=env, check=True, stdout=out, stderr=out
            )
        finally:
            if log:
                out.close()
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--log", type=Path, help="write the demo's output here")
    args = ap.parse_args()
    seconds = measure(args.log)
    write_table(
        "demo",
        "Demo: scripts/demo.sh (make demo after install)",
        [["demo", f"{seconds:.0f}", f"{GOAL_S:.0f}", f"{seconds / GOAL_S:.2f}"]],
        ["what", "seconds", "goal s", "ratio to goal"],
    )


if __name__ == "__main__":
    main()
