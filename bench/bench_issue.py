"""Every row of the performance table (issue 26) beside its baseline, as ratios, in one run.

| measure | Renkei | baseline | ratio | goal | met |: guarded vs raw predict (100k rows);
single row in process p50 / p99 (the service's dict path) vs the raw model; HTTP /predict
p50 / p99 with a bearer token vs a bare FastAPI endpoint calling the raw model; ingest
validate + quarantine of 1M rows vs the Parquet read; ingest + train flows vs a plain script
(50k rows); the ingest and score flows at 1M and 5M rows (CSV files of 500k) vs their plain
scripts (bench/plain.py) on the same files; the training task's peak memory at 5M vs 1M
training rows (bench/bench_train_memory.py); the demo vs its goal.

    python bench/bench_issue.py [--scale 1M,5M | --skip-scale] [--skip-train] [--skip-demo]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_demo, bench_guard, bench_ingest, bench_scale, bench_train  # noqa: E402
from bench.common import write_table  # noqa: E402

TRAIN_MEMORY_GOAL = 1.2  # peak training-task memory at 5M rows <= 1.2x that at 1M


def row(
    what: str, value: float, base: float, unit: str, goal: float | None, load: float | None = None
) -> list[str]:
    """A table row: Renkei, its baseline, the ratio, the goal (ratio <= goal), whether met and
    the 1-minute load average when it was measured (``load``; now when not given)."""
    fmt = "{:.2f}" if unit == "ms" else "{:.3f}" if unit == "s" and value < 10 else "{:,.1f}"
    ratio = value / base
    return [
        what,
        f"{fmt.format(value)} {unit}",
        f"{fmt.format(base)} {unit}",
        f"{ratio:.2f}",
        "" if goal is None else f"<= {goal:g}",
        "" if goal is None else ("yes" if ratio <= goal else "NO"),
        f"{os.getloadavg()[0] if load is None else load:.1f}",
    ]


def not_measured(what: str, why: str, goal: float) -> list[str]:
    return [what, f"not measured: {why}", "", "", f"<= {goal:g}", "", ""]


def sizes(text: str) -> list[int]:
    """'1M,5M' (or 500k, 1000000) as row counts."""
    scale = {"k": 1_000, "m": 1_000_000}
    out = []
    for item in (s.strip().lower() for s in text.split(",") if s.strip()):
        unit = scale.get(item[-1], 1)
        out.append(int(float(item.rstrip("km")) * unit))
    return out


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n:,}"


def scale_rows(ns: list[int]) -> list[list[str]]:
    """The ingest and score flows beside their plain scripts at each size, in one run."""
    rows = []
    for m in bench_scale.measure(ns, out=lambda s: print(s, flush=True)):
        what = f"{m.flow} flow vs a plain script, {label(m.rows)} rows ({m.partitions} tasks)"
        if not m.same:
            rows.append(not_measured(what, f"counts differ ({m.differs})", bench_scale.GOAL_RATIO))
            continue
        rows.append(row(what, m.flow_s, m.plain_s, "s", bench_scale.GOAL_RATIO, m.load))
    return rows


def train_memory_rows() -> list[list[str]]:
    """The training task's peak memory at 5M vs 1M training rows.

    Hook for ``bench/bench_train_memory.py`` (issue 26 item 3): its ``measure()`` returns
    ``{training rows: peak MiB}``, or ``{task: {training rows: peak MiB}}`` for one row per
    training task; the largest size is compared with the smallest. Without the module (or
    its ``measure``) the row says it is not measured."""
    what = "training task peak memory, 5M vs 1M training rows"
    if importlib.util.find_spec("bench.bench_train_memory") is None:
        return [not_measured(what, "bench/bench_train_memory.py missing", TRAIN_MEMORY_GOAL)]
    bench_train_memory = importlib.import_module("bench.bench_train_memory")
    if not hasattr(bench_train_memory, "measure"):
        why = "bench/bench_train_memory.py has no measure()"
        return [not_measured(what, why, TRAIN_MEMORY_GOAL)]
    found = bench_train_memory.measure()
    tasks = (
        found
        if isinstance(found, Mapping) and all(isinstance(v, Mapping) for v in found.values())
        else {"": found}
    )
    rows = []
    for task, peaks in tasks.items():
        if not isinstance(peaks, Mapping) or len(peaks) < 2:
            why = f"bench_train_memory.measure() gave {peaks!r:.60}, not {{rows: MiB}}"
            rows.append(not_measured(what, why, TRAIN_MEMORY_GOAL))
            continue
        small, large = min(peaks), max(peaks)
        name = f"training task {task} peak memory".replace("  ", " ")
        name += f", {label(large)} vs {label(small)} training rows"
        rows.append(row(name, float(peaks[large]), float(peaks[small]), "MiB", TRAIN_MEMORY_GOAL))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--skip-demo", action="store_true", help="leave out the demo (minutes)")
    ap.add_argument("--skip-train", action="store_true", help="leave out the 50k-row flows")
    ap.add_argument(
        "--scale", default="1M,5M", help="sizes for the ingest and score flows vs plain scripts"
    )
    ap.add_argument("--skip-scale", action="store_true", help="leave out the 1M/5M flows")
    ap.add_argument("--skip-memory", action="store_true", help="leave out the training memory row")
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    rows = []
    if not args.skip_train:
        t = bench_train.measure(50_000)
        rows.append(
            row(
                "ingest + train flows vs a plain script, 50k rows",
                t["flow_s"],
                t["plain_s"],
                "s",
                2.0,
            )
        )
        rows.append(
            row(
                "  Metaflow's floor (same graphs, empty steps) vs the plain script",
                t["floor_s"],
                t["plain_s"],
                "s",
                None,
            )
        )
    if not args.skip_scale:
        rows += scale_rows(sizes(args.scale))
    g = bench_guard.measure(100_000, args.requests, runs=3)  # HTTP: the worst of 3 runs
    http = "HTTP /predict one row, bearer token, {} (vs bare FastAPI; worst of 3 runs)"
    rows += [
        row(http.format("p50"), g["http_p50"], g["bare_p50"], "ms", 1.10),
        row(http.format("p99"), g["http_p99"], g["bare_p99"], "ms", 1.20),
    ]
    if not args.skip_memory:
        rows += train_memory_rows()
    parquet = bench_ingest.measure(1_000_000, 3, csv_too=False)[0]
    rows.append(
        row(
            "ingest validate + quarantine, 1M rows (vs Parquet read)",
            parquet["split_s"],
            parquet["read_s"],
            "s",
            bench_ingest.GOAL_RATIO,
        )
    )
    rows += [
        row("guarded vs raw predict, 100k rows", g["guarded_ms"], g["raw_ms"], "ms", 1.10),
        row("single row in process, p50", g["records_p50"], g["raw_p50"], "ms", None),
        row("single row in process, p99", g["records_p99"], g["raw_p99"], "ms", 1.5),
    ]
    if not args.skip_demo:
        rows.append(
            row(
                "demo (make demo after install) vs its goal",
                bench_demo.measure(),
                bench_demo.GOAL_S,
                "s",
                1.0,
            )
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    write_table(
        "issue",
        f"Renkei beside its baselines (ratio = Renkei / baseline); load average at the end {load}",
        rows,
        ["measure", "Renkei", "baseline", "ratio", "goal", "met", "load (1 min)"],
    )


if __name__ == "__main__":
    main()
