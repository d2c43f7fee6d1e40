"""Peak memory of the training tasks at 1M and 5M training rows (issue 26 item 3).

Generated orders (shared/data/generator.py, in chunks of ``--part-rows``, each a part of a
partitioned dataset with its own label batch, as ingest stores them) are trained on as the
train flow's tasks do, each task in a child process of its own that reports its peak RSS
(Linux's VmHWM, ``shared.flowkit.run.peak_rss_mib``: everything the task held,
imports included):

  start      the time split (``training.memory.mode: external``: written as parts in two
             streaming passes; ``in_memory``: every row in one frame), the envelope, and the
             baseline rule fitted and scored with the guard, calibration and drift reference
  xgboost    one family's training task (external: ``ExtMemQuantileDMatrix`` over the parts)
  torch_mlp  the same for the MLP (external: an iterable over the parts)

Goal: each task's peak at 5M rows <= 1.2x its peak at 1M (external). XGBoost rounds, MLP
epochs and the MLP's batch are cut (``--rounds``, ``--epochs``, batches of 4,096 rows) so that
5M rows finish on a laptop; memory does not grow with them. Peak RSS is the task's VmHWM.
External tasks read, fit on and score at most ``training.memory.batch_rows`` rows at once;
what still grows is XGBoost's own state per train row while it boosts (gradients,
predictions, row indices, the L1 objective's leaf quantiles: ~60-70 bytes a row, measured).

    python bench/bench_train_memory.py [--rows 1000000 5000000] [--modes external in_memory]
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TASKS = ("start", "xgboost", "torch_mlp")


def _cfg(work: Path, mode: str, rounds: int, epochs: int):  # noqa: ANN202
    from shared.config import ProjectConfig, load_project

    data = load_project(REPO / "config" / "project.yaml").model_dump()
    data["storage"]["data_root"] = str(work / "data")
    data["training"]["memory"]["mode"] = mode
    data["training"]["xgboost"].update(n_estimators=rounds, early_stopping_rounds=10)
    data["training"]["torch_mlp"].update(epochs=epochs, patience=2, batch_size=4096)
    return ProjectConfig.model_validate(data)


def prepare(work: Path, rows: int, part_rows: int) -> None:
    """A partitioned dataset of ``rows`` validated generated orders and one label batch per
    part (the parent process: not measured)."""
    import pandas as pd

    from shared.config import load_project
    from shared.data.contracts import build_contracts
    from shared.data.generator import generate_orders
    from shared.data.manifest import Manifest, PartEntry, part_name, write_manifest, write_part
    from shared.data.validation import split_valid

    cfg = load_project(REPO / "config" / "project.yaml")
    contracts = build_contracts(cfg)
    start, days = pd.Timestamp("2026-01-01"), 7
    entries = []
    (work / "labels").mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(range(0, rows, part_rows)):
        n = min(part_rows, rows - a)
        b = generate_orders(
            n,
            seed=100 + i,
            start=str(start + pd.Timedelta(days=days * i)),
            days=days,
            id_prefix=f"p{i}-",
        )
        valid = split_valid(b.orders, contracts).valid.reset_index(drop=True)
        k, sha = write_part(valid, str(work / "ds" / part_name(i)))
        entries.append(PartEntry(part_name(i), k, sha))
        b.labels.to_parquet(work / "labels" / f"labels-{i:05d}.parquet")
        print(f"  part {i}: {k} rows", flush=True)
    write_manifest(str(work / "ds"), Manifest("dataset", tuple(entries)))


def child(task: str, work: Path, mode: str, rounds: int, epochs: int) -> dict:
    """One training task as the flow runs it; its peak RSS and seconds."""
    t0 = time.perf_counter()
    from shared.config import load_rules

    cfg = _cfg(work, mode, rounds, epochs)
    rules = load_rules(REPO / "config" / "rules.yaml")
    labels = sorted(str(p) for p in (work / "labels").glob("*.parquet"))
    state = work / f"state-{mode}.pkl"
    out: dict = {}
    if task == "start":
        from shared.guard import Envelope
        from shared.training.fit import train_candidate

        if mode == "external":
            from shared.training.external import spill_split

            split = spill_split([(str(work / "ds"), labels)], cfg, str(work / "split"))
            envelope = Envelope.learn(split.sample("train"), cfg)
        else:
            import pandas as pd

            from shared.data import storage
            from shared.training.inputs import assemble, split_by_time

            frame = storage.read_parquet(str(work / "ds"))
            lab = pd.concat([pd.read_parquet(p) for p in labels], ignore_index=True)
            split = split_by_time(assemble([frame], [lab], cfg), cfg)
            del frame, lab
            envelope = Envelope.learn(split.train, cfg)
        c = train_candidate("baseline", split, cfg, rules, envelope)
        state.write_bytes(pickle.dumps((split, envelope)))  # the flow's artifacts
        out = {"sizes": split.sizes, "mae": c.metrics["mae"]}
    else:
        from shared.training.fit import train_candidate

        split, envelope = pickle.loads(state.read_bytes())
        c = train_candidate(task, split, cfg, rules, envelope)
        out = {"mae": c.metrics["mae"], "iterations": c.fit.iterations}
    seconds = round(time.perf_counter() - t0, 1)
    from shared.flowkit.run import peak_rss_mib  # after the work: its import adds no peak

    return {**out, "peak_mib": round(peak_rss_mib(), 1), "seconds": seconds}


def run_child(task: str, work: Path, mode: str, rounds: int, epochs: int) -> dict:
    cmd = [sys.executable, __file__, "--child", task, "--work", str(work), "--mode", mode]
    cmd += ["--rounds", str(rounds), "--epochs", str(epochs)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{task} ({mode}) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_all(
    sizes: list[int], part_rows: int, modes: list[str], tasks: list[str], rounds: int, epochs: int
) -> dict[tuple[str, str, int], dict]:
    """Each task's report (peak MiB, seconds) per (mode, task, training rows)."""
    results: dict[tuple[str, str, int], dict] = {}
    for rows in sizes:
        with tempfile.TemporaryDirectory(prefix="renkei-trainmem-") as tmp:
            work = Path(tmp)
            print(f"generating {rows:,} rows ...", flush=True)
            prepare(work, rows, part_rows)
            for mode in modes:
                for task in tasks:
                    r = run_child(task, work, mode, rounds, epochs)
                    results[(mode, task, rows)] = r
                    print(f"{mode} {task} {rows:,}: {r}", flush=True)
    return results


def measure(sizes: tuple[int, ...] = (1_000_000, 5_000_000)) -> dict[str, dict[int, float]]:
    """bench/bench_issue.py's row: each task's peak MiB per training rows (external)."""
    found = run_all(list(sizes), 500_000, ["external"], list(TASKS), 20, 1)
    out: dict[str, dict[int, float]] = {t: {} for t in TASKS}
    for (_, task, n), r in found.items():
        out[task][n] = r["peak_mib"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=[1_000_000, 5_000_000],
        help="training rows to compare, smallest vs largest (1000000 5000000)",
    )
    ap.add_argument(
        "--part-rows", type=int, default=500_000, help="rows per dataset part (500,000)"
    )
    ap.add_argument(
        "--modes", nargs="+", default=["external"], help="external and/or in_memory (external)"
    )
    ap.add_argument(
        "--tasks", nargs="+", default=list(TASKS), help="which tasks (start xgboost torch_mlp)"
    )
    ap.add_argument("--rounds", type=int, default=20, help="XGBoost rounds (20)")
    ap.add_argument("--epochs", type=int, default=1, help="MLP epochs (1)")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # internal: run one task
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="external", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, Path(a.work), a.mode, a.rounds, a.epochs)))
        return
    from bench.common import write_table

    results = run_all(a.rows, a.part_rows, a.modes, a.tasks, a.rounds, a.epochs)
    table = []
    lo, hi = min(a.rows), max(a.rows)
    for mode in a.modes:
        for task in a.tasks:
            r_lo, r_hi = results.get((mode, task, lo)), results.get((mode, task, hi))
            if not (r_lo and r_hi):
                continue
            ratio = r_hi["peak_mib"] / r_lo["peak_mib"]
            verdict = "meets" if ratio <= 1.2 else "misses"
            table.append(
                [
                    mode,
                    task,
                    f"{r_lo['peak_mib']:.0f}",
                    f"{r_hi['peak_mib']:.0f}",
                    f"{ratio:.2f}x ({verdict} <= 1.2x)",
                    f"{r_lo['seconds']} / {r_hi['seconds']}",
                ]
            )
    write_table(
        "train_memory_" + "_".join(a.modes),
        f"Training task peak RSS, {lo:,} vs {hi:,} generated rows (parts of {a.part_rows:,})",
        table,
        ["mode", "task", f"peak MiB {lo:,}", f"peak MiB {hi:,}", "ratio", "seconds"],
    )


if __name__ == "__main__":
    main()
