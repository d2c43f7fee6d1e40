"""Metaflow's floor: the ingest, train and score flows' graphs with empty steps.

The same graphs as `flows/ingest_flow.py` and `flows/score_flow.py` (start -> foreach over
the partitions -> join -> end, with a card on the ingest's join) and `flows/train_flow.py`
(start -> foreach train over the learned families -> compare with a card -> end), every
step empty, run locally the same way (`python flow.py run`). What Renkei adds on top is the
flows' time less this floor (`bench_train.py` prints both; `profile_tasks.py --floor`
profiles these graphs task by task beside the flows').

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
from metaflow import FlowSpec, card, step


class FloorIngestFlow(FlowSpec):
    @step
    def start(self):
        self.parts = list(range({parts}))
        self.next(self.validate, foreach="parts")

    @step
    def validate(self):
        self.next(self.join)

    @card(type="blank")
    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FloorIngestFlow()
"""

TRAIN = """
from metaflow import FlowSpec, card, step


class FloorTrainFlow(FlowSpec):
    @step
    def start(self):
        self.families = {families!r}
        self.next(self.train, foreach="families")

    @step
    def train(self):
        self.next(self.compare)

    @card(type="blank")
    @step
    def compare(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FloorTrainFlow()
"""

# the score flow's graph is the ingest's (a foreach "score" over the partitions), no card
SCORE = (
    INGEST.replace("FloorIngestFlow", "FloorScoreFlow")
    .replace('    @card(type="blank")\n', "")
    .replace("validate", "score")
)


def write_flows(
    folder: Path, families: tuple[str, ...] = ("xgboost", "torch_mlp"), parts: int = 1
) -> dict[str, Path]:
    """The empty graphs as flow files in ``folder``: name (ingest, train, score) -> path."""
    texts = {
        "ingest": INGEST.format(parts=parts),
        "train": TRAIN.format(families=list(families)),
        "score": SCORE.format(parts=parts),
    }
    out = {}
    for name, text in texts.items():
        out[name] = folder / f"floor_{name}_flow.py"
        out[name].write_text(text)
    return out


def measure(families: tuple[str, ...] = ("xgboost", "torch_mlp")) -> dict[str, float]:
    """Seconds of one local run of each empty flow (ingest, train, score) and of ingest and
    train together (what `bench_train.py` compares with)."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "METAFLOW_USER": os.environ.get("METAFLOW_USER", "bench")}
        for name, path in write_flows(Path(tmp), families).items():
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
        "Metaflow's floor: the ingest, train and score graphs with empty steps (local runs)",
        [
            ["ingest graph (start, foreach of 1, join with a card, end)", f"{m['ingest_s']:.1f}"],
            ["train graph (start, foreach of 2, join with a card, end)", f"{m['train_s']:.1f}"],
            ["ingest and train", f"{m['total_s']:.1f}"],
            ["score graph (start, foreach of 1, join, end)", f"{m['score_s']:.1f}"],
        ],
        ["flow", "seconds"],
    )


if __name__ == "__main__":
    main()
