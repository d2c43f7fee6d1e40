"""Training benchmark: the cost of orchestration.

Wall time of `ingest_flow run` + `train_flow run` on N generated rows (Metaflow, local),
beside a plain script doing the same three fits (baseline, XGBoost, PyTorch MLP) in one
process on the same rows, and beside Metaflow's floor (the same graphs with empty steps,
`bench_floor.py`). Prints all three and the ratio.

    python bench/bench_train.py [--rows 50000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import bench_floor  # noqa: E402
from bench.common import write_table  # noqa: E402
from shared.config import load_project  # noqa: E402
from shared.training import generated_split, train_candidate  # noqa: E402
from tests.conftest import write_project  # noqa: E402


def measure(n_rows: int = 50_000) -> dict:
    """Seconds of ingest_flow + train_flow runs and of a plain script doing the same fits."""
    with tempfile.TemporaryDirectory() as tmp:
        project = write_project(Path(tmp))
        env = {**os.environ, "METAFLOW_USER": os.environ.get("METAFLOW_USER", "bench")}
        t0 = time.perf_counter()
        for flow, extra in (
            ("ingest_flow.py", ["--rows", str(n_rows), "--bad-fraction", "0"]),
            ("train_flow.py", []),
        ):
            print(f"running {flow} ...", flush=True)
            subprocess.run(
                [
                    sys.executable,
                    str(REPO / "flows" / flow),
                    "--config",
                    "project",
                    str(project),
                    "run",
                    *extra,
                ],
                check=True,
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
            )
        t_flow = time.perf_counter() - t0

        print("running the plain script ...", flush=True)
        cfg = load_project(project)
        t0 = time.perf_counter()
        split = generated_split(cfg, n_rows, cfg.generator.seed)
        fits = {f: train_candidate(f, split, cfg) for f in cfg.training.families}
        t_plain = time.perf_counter() - t0
    metrics = {f: c.metrics[cfg.training.key_metric] for f, c in fits.items()}
    print("running the empty graphs (Metaflow's floor) ...", flush=True)
    floor = bench_floor.measure(tuple(f for f in cfg.training.families if f != "baseline"))
    return {
        "flow_s": t_flow,
        "plain_s": t_plain,
        "floor_s": floor["total_s"],
        "key_metric": cfg.training.key_metric,
        "metrics": metrics,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=50_000)
    args = ap.parse_args()
    m = measure(args.rows)
    write_table(
        "train",
        f"Training: flows (ingest + train) vs a plain script, {args.rows:,} rows",
        [
            ["Metaflow ingest + train (local)", f"{m['flow_s']:.1f}"],
            ["plain script: same data, same three fits", f"{m['plain_s']:.1f}"],
            ["Metaflow's floor: the same graphs, empty steps", f"{m['floor_s']:.1f}"],
            [
                "Renkei's own cost: flows - floor - plain",
                f"{m['flow_s'] - m['floor_s'] - m['plain_s']:.1f}",
            ],
            ["ratio (cost of orchestration)", f"{m['flow_s'] / m['plain_s']:.2f}"],
        ]
        + [
            [f"  {f} holdout {m['key_metric']} (script)", f"{v:.3f}"]
            for f, v in m["metrics"].items()
        ],
        ["what", "seconds / value"],
    )


if __name__ == "__main__":
    main()
