"""Metaflow's floor: the ingest and train flows' graphs with empty steps.

The same graphs as `flows/ingest_flow.py` (start -> validate -> end) and `flows/train_flow.py`
(start -> foreach train over the learned families -> compare -> end), every step empty, run
locally the same way (`python flow.py run`). What Renkei adds on top is the flows' time
less this floor (see `bench_train.py`, which prints both).

    python bench/bench_floor.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write_table  # noqa: E402

INGEST = """
from metaflow import FlowSpec, step


class FloorIngestFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.validate)

    @step
    def validate(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FloorIngestFlow()
"""

TRAIN = """
from metaflow import FlowSpec, step


class FloorTrainFlow(FlowSpec):
    @step
    def start(self):
        self.families = {families!r}
        self.next(self.train, foreach="families")

    @step
    def train(self):
        self.next(self.compare)

    @step
    def compare(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FloorTrainFlow()
"""


def measure(families: tuple[str, ...] = ("xgboost", "torch_mlp")) -> dict[str, float]:
    """Seconds of one local run of each empty flow (ingest, train) and their sum."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "METAFLOW_USER": os.environ.get("METAFLOW_USER", "bench")}
        for name, text in (("ingest", INGEST), ("train", TRAIN.format(families=list(families)))):
            path = Path(tmp) / f"floor_{name}_flow.py"
            path.write_text(text)
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, str(path), "run"],
                check=True,
                cwd=tmp,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            out[f"{name}_s"] = time.perf_counter() - t0
    out["total_s"] = out["ingest_s"] + out["train_s"]
    return out


def main() -> None:
    m = measure()
    write_table(
        "floor",
        "Metaflow's floor: the ingest and train graphs with empty steps (local runs)",
        [
            ["ingest graph (3 steps)", f"{m['ingest_s']:.1f}"],
            ["train graph (start, foreach of 2, join, end)", f"{m['train_s']:.1f}"],
            ["both", f"{m['total_s']:.1f}"],
        ],
        ["flow", "seconds"],
    )


if __name__ == "__main__":
    main()
