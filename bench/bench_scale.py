"""Scale benchmark: the ingest and score flows (Metaflow, local) beside plain scripts, at 100k,
1M and 5M rows.

Each size is a folder of generated CSV files (500k rows each) on local disk, ingested with
``flows/ingest_flow.py`` and scored with ``flows/score_flow.py`` (a model trained on 3,000
rows in production), partitions of ``storage.partition_rows`` rows from config/project.yaml
(``--partition-rows`` overrides). Beside each flow, on the same files in the same run, its
plain single-process script (``bench/plain.py``: the same reads, checks and writes, no
Metaflow, no ledger), whose counts must equal the flow's (valid, quarantined and the dataset
version; scored rows and decisions): otherwise the row says so and the ratio means nothing.

Printed per flow and size: wall time, rows per second, the peak resident memory of the
largest task (each step stores its own peak, VmHWM: ``peak_rss_mib``), the plain script's wall time (imports
included, as the flow's tasks include theirs) and peak memory, and flow / plain.

Goals: flow <= 3x its plain script (issue 26); wall time grows linearly (5M within 5.5x of
1M); the largest task's peak memory stays flat (5M within 1.2x of 1M) and under 1 GiB
(issue 16).

    python bench/bench_scale.py [--sizes 100000 1000000 5000000] [--partition-rows N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_table  # noqa: E402
from shared.config import load_project  # noqa: E402
from shared.config.settings import machine_cores  # noqa: E402
from shared.data.generator import generate_orders  # noqa: E402
from shared.data.partitions import partition_size  # noqa: E402
from shared.operate.scoring import fresh_batch_start  # noqa: E402

FILE_ROWS = 500_000
GOAL_RATIO = 3.0  # a flow within 3x of its plain script (issue 26)


@dataclass(frozen=True)
class Measured:
    """One flow at one size beside its plain script."""

    flow: str  # "ingest" or "score"
    rows: int
    partitions: int
    flow_s: float
    flow_peak_mib: float
    flow_peak_step: str
    plain_s: float
    plain_peak_mib: float
    same: bool  # the plain script's counts equal the flow's
    differs: str  # what differs, when not the same
    load: float  # the 1-minute load average when the plain script ended

    @property
    def ratio(self) -> float:
        return self.flow_s / self.plain_s


def generate(rows: int, folder: Path, start: str, days: int) -> Path:
    """``rows`` orders (2% bad) as CSV files of at most FILE_ROWS rows, written chunk by chunk."""
    folder.mkdir(parents=True)
    for i, a in enumerate(range(0, rows, FILE_ROWS)):
        n = min(FILE_ROWS, rows - a)
        g = generate_orders(
            n, seed=1000 + i, bad_fraction=0.02, start=start, days=days, id_prefix=f"b{i}"
        )
        g.orders.to_csv(folder / f"orders-{i:04d}.csv", index=False)
    return folder


def run_flow(flow: str, project: Path, env: dict[str, str], **params: object):
    """Run a flow; wall seconds, the largest task's peak RSS (MiB), its step and the run."""
    from metaflow import Runner

    t0 = time.perf_counter()
    with Runner(
        str(REPO / "flows" / f"{flow}_flow.py"),
        show_output=False,
        env=env,
        cwd=str(REPO),
        config=[("project", str(project))],
    ) as r:
        result = r.run(**params)
        wall = time.perf_counter() - t0
        if result.status != "successful":
            raise SystemExit(f"{flow} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        peak, where = 0.0, ""
        for step in result.run:
            if step.id == "end":  # records nothing of its own: it inherits the join's value
                continue
            for task in step:
                rss = task.data.peak_rss_mib if "peak_rss_mib" in task.data else 0.0
                if rss > peak:
                    peak, where = rss, f"{step.id}"
        return wall, peak, where, result.run


def run_plain(*args: str) -> tuple[float, dict]:
    """Run ``bench/plain.py ARGS`` in a process of its own: wall seconds (imports included)
    and what it printed (counts, its peak RSS)."""
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, str(REPO / "bench" / "plain.py"), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"plain {args[0]} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return wall, json.loads(p.stdout.strip().splitlines()[-1])


def flow_counts(flow: str, run) -> dict:
    """The flow's counts, in the plain script's terms."""
    d = run.data
    if flow == "ingest":
        o = d.outcome
        return {
            "rows_in": o.rows_in,
            "rows_valid": o.rows_valid,
            "rows_quarantined": o.rows_quarantined,
            "dataset_version": o.dataset_version,
        }
    return {"rows": d.batch.rows, "decisions": {k: v for k, v in d.batch.decisions.items() if v}}


def differences(flow: dict, plain: dict) -> str:
    """What the plain script counted differently from the flow ('' when nothing)."""
    return "; ".join(
        f"{k}: flow {flow[k]} plain {plain.get(k)}" for k in flow if flow[k] != plain.get(k)
    )


def measure(sizes: list[int], partition_rows: int = 0, out=print) -> list[Measured]:
    """Each flow beside its plain script at each size, on the same files, in one run."""
    from tests.builders import build, release

    results: list[Measured] = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        (tmp / "model").mkdir()
        t = build(tmp / "model", f"sqlite:///{tmp / 'model' / 'ledger.db'}", runs=1)
        [v] = t.candidates
        release(t.ledger, t.roles, t.cfg, t.rules, v, "scale benchmark")
        dep = t.ledger.releases.alias("production")
        assert dep is not None and dep.bundle_sha256
        data = yaml.safe_load(t.project_path.read_text())
        size = (
            partition_rows or load_project(REPO / "config" / "project.yaml").storage.partition_rows
        )
        data["storage"]["partition_rows"] = size
        t.project_path.write_text(yaml.safe_dump(data, sort_keys=False))
        env = {
            "METAFLOW_USER": "bench",
            "METAFLOW_DEFAULT_METADATA": "local",
            "METAFLOW_DEFAULT_DATASTORE": "local",
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(tmp / "metaflow"),
            "RENKEI_LEDGER_URL": "",
            "PYTHONPATH": str(REPO),
        }
        os.environ.update(env)
        for n in sizes:
            out(f"{n:,} rows: generating ...")
            inputs = {
                "ingest": generate(n, tmp / f"ingest-{n}", "2026-10-01", 28),
                "score": generate(n, tmp / f"score-{n}", fresh_batch_start(), 7),
            }
            for flow, src in inputs.items():
                out(f"{n:,} rows: {flow} flow ...")
                wall, peak, where, run = run_flow(flow, t.project_path, env, source=str(src))
                out(f"{n:,} rows: {flow} plain script ...")
                where_to = ["--source", str(src), "--out", str(tmp / f"plain-{flow}-{n}")]
                if flow == "ingest":
                    args = ["ingest", "--project", str(t.project_path), *where_to]
                else:
                    args = ["score", "--bundle", dep.bundle_uri, "--sha256", dep.bundle_sha256]
                    args += where_to
                plain_s, plain = run_plain(*args)
                why = differences(flow_counts(flow, run), plain)
                parts = -(-n // partition_size(size, n, machine_cores()))
                m = Measured(
                    flow,
                    n,
                    parts,
                    wall,
                    peak,
                    where,
                    plain_s,
                    plain["peak_rss_mib"],
                    not why,
                    why,
                    os.getloadavg()[0],
                )
                results.append(m)
                out(" | ".join(table_row(m)))
    return results


def table_row(m: Measured) -> list[str]:
    ratio = f"{m.ratio:.2f}" if m.same else f"n/a: counts differ ({m.differs})"
    return [
        m.flow,
        f"{m.rows:,}",
        f"{m.partitions}",
        f"{m.flow_s:.1f}",
        f"{m.rows / m.flow_s:,.0f}",
        f"{m.flow_peak_mib:,.0f} ({m.flow_peak_step})",
        f"{m.plain_s:.1f}",
        f"{m.plain_peak_mib:,.0f}",
        ratio,
        f"{m.load:.1f}",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    ap.add_argument("--partition-rows", type=int, default=0, help="0: from config/project.yaml")
    args = ap.parse_args()
    results = measure(args.sizes, args.partition_rows, lambda s: print(s, flush=True))
    size = (
        args.partition_rows or load_project(REPO / "config" / "project.yaml").storage.partition_rows
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    write_table(
        "scale",
        f"Scale: ingest and score flows beside plain scripts, partitions of {size} rows "
        f"(local Metaflow); load average {load}",
        [table_row(m) for m in results],
        [
            "flow",
            "rows",
            "partitions",
            "flow s",
            "rows/s",
            "largest task peak RSS MiB (step)",
            "plain s",
            "plain peak RSS MiB",
            f"flow / plain (goal <= {GOAL_RATIO:g})",
            "load (1 min)",
        ],
    )


if __name__ == "__main__":
    main()
