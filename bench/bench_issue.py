"""Every row of the performance table side by side with its baseline, as ratios, in one run.

| measure | Renkei | baseline | ratio | goal |: guarded vs raw predict (100k rows); single row
in process p50 / p99 (the service's dict path) vs the raw model; HTTP /predict p50 / p99 vs a
bare FastAPI endpoint calling the raw model; ingest validate + quarantine of 1M rows vs the
Parquet read; ingest + train flows vs a plain script (50k rows); the demo vs its goal.

    python bench/bench_issue.py [--skip-demo] [--skip-train]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_demo, bench_guard, bench_ingest, bench_train  # noqa: E402
from bench.common import write_table  # noqa: E402


def row(what: str, value: float, base: float, unit: str, goal: str) -> list[str]:
    fmt = "{:.2f}" if unit == "ms" else "{:.3f}" if unit == "s" and value < 10 else "{:.1f}"
    return [
        what,
        f"{fmt.format(value)} {unit}",
        f"{fmt.format(base)} {unit}",
        f"{value / base:.2f}",
        goal,
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--skip-demo", action="store_true", help="leave out the demo (minutes)")
    ap.add_argument("--skip-train", action="store_true", help="leave out the flows (minutes)")
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    g = bench_guard.measure(100_000, args.requests, runs=3)  # HTTP: the worst of 3 runs
    rows = [
        row("guarded vs raw predict, 100k rows", g["guarded_ms"], g["raw_ms"], "ms", "<= 1.10"),
        row("single row in process, p50", g["records_p50"], g["raw_p50"], "ms", ""),
        row("single row in process, p99", g["records_p99"], g["raw_p99"], "ms", "<= 1.5"),
        row(
            "HTTP /predict one row, bearer token, p50 (vs bare FastAPI; worst of 3 runs)",
            g["http_p50"],
            g["bare_p50"],
            "ms",
            "<= 1.10",
        ),
        row(
            "HTTP /predict one row, bearer token, p99 (vs bare FastAPI; worst of 3 runs)",
            g["http_p99"],
            g["bare_p99"],
            "ms",
            "<= 1.20",
        ),
    ]
    parquet = bench_ingest.measure(1_000_000, 3, csv_too=False)[0]
    rows.append(
        row(
            "ingest validate + quarantine, 1M rows (vs Parquet read)",
            parquet["split_s"],
            parquet["read_s"],
            "s",
            "<= 1.0",
        )
    )
    if not args.skip_train:
        t = bench_train.measure(50_000)
        rows.append(
            row(
                "ingest + train flows vs a plain script, 50k rows",
                t["flow_s"],
                t["plain_s"],
                "s",
                "<= 2.0",
            )
        )
        rows.append(
            row(
                "  Metaflow's floor (same graphs, empty steps) vs the plain script",
                t["floor_s"],
                t["plain_s"],
                "s",
                "",
            )
        )
    if not args.skip_demo:
        rows.append(
            row(
                "demo (make demo after install) vs its goal",
                bench_demo.measure(),
                bench_demo.GOAL_S,
                "s",
                "<= 1.0",
            )
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    write_table(
        "issue",
        f"Renkei beside its baselines (ratio = Renkei / baseline); load average {load}",
        rows,
        ["measure", "Renkei", "baseline", "ratio", "goal"],
    )


if __name__ == "__main__":
    main()
