"""Scale benchmark: the ingest and score flows (Metaflow, local) at 100k, 1M and 5M rows.

Each size is a folder of generated CSV files (500k rows each) on local disk, ingested with
``flows/ingest_flow.py`` and scored with ``flows/score_flow.py`` (a model trained on 3,000
rows in production), partitions of ``storage.partition_rows`` rows from config/project.yaml
(``--partition-rows`` overrides). Printed per flow and size: wall time, rows per second and
the peak resident memory of the largest task (each step stores its ``ru_maxrss``).

Goals (issue 16): wall time grows linearly (5M within 5.5x of 1M); the largest task's peak
memory stays flat (5M within 1.2x of 1M) and under 1 GiB with a fixed partition size
(``--partition-rows 250000``; ``auto`` grows partitions with the batch up to 500,000 rows).

    python bench/bench_scale.py [--sizes 100000 1000000 5000000] [--partition-rows N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
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


def _generate(rows: int, folder: Path, start: str, days: int) -> Path:
    """``rows`` orders (2% bad) as CSV files of at most FILE_ROWS rows, written chunk by chunk."""
    folder.mkdir(parents=True)
    for i, a in enumerate(range(0, rows, FILE_ROWS)):
        n = min(FILE_ROWS, rows - a)
        g = generate_orders(
            n, seed=1000 + i, bad_fraction=0.02, start=start, days=days, id_prefix=f"b{i}"
        )
        g.orders.to_csv(folder / f"orders-{i:04d}.csv", index=False)
    return folder


def _run(
    flow: str, project: Path, env: dict[str, str], **params: object
) -> tuple[float, float, str]:
    """Run a flow; wall seconds, the largest task's peak RSS (MiB) and which step it was."""
    from metaflow import Runner

    t0 = time.perf_counter()
    with Runner(
        str(REPO / "flows" / flow),
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
    return wall, peak, where


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    ap.add_argument("--partition-rows", type=int, default=0, help="0: from config/project.yaml")
    args = ap.parse_args()
    from tests.builders import build, release

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        (tmp / "model").mkdir()
        t = build(tmp / "model", f"sqlite:///{tmp / 'model' / 'ledger.db'}", runs=1)
        [v] = t.candidates
        release(t.ledger, t.roles, t.cfg, t.rules, v, "scale benchmark")
        data = yaml.safe_load(t.project_path.read_text())
        size = (
            args.partition_rows
            or load_project(REPO / "config" / "project.yaml").storage.partition_rows
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
        rows = []
        for n in args.sizes:
            print(f"{n:,} rows: generating ...", flush=True)
            ingest_in = _generate(n, tmp / f"ingest-{n}", "2026-10-01", 28)
            score_in = _generate(n, tmp / f"score-{n}", fresh_batch_start(), 7)
            for flow, src in (("ingest_flow.py", ingest_in), ("score_flow.py", score_in)):
                print(f"{n:,} rows: {flow} ...", flush=True)
                wall, peak, where = _run(flow, t.project_path, env, source=str(src))
                rows.append(
                    [
                        flow.removesuffix(".py"),
                        f"{n:,}",
                        f"{-(-n // partition_size(size, n, machine_cores()))}",
                        f"{wall:.1f}",
                        f"{n / wall:,.0f}",
                        f"{peak:,.0f} ({where})",
                    ]
                )
                print(" | ".join(rows[-1]), flush=True)
        write_table(
            "scale",
            f"Scale: ingest and score flows, partitions of {size} rows (local Metaflow)",
            rows,
            ["flow", "rows", "partitions", "wall s", "rows/s", "largest task peak RSS MiB (step)"],
        )


if __name__ == "__main__":
    main()
