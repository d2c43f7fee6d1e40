"""Ingest benchmark: validate + split 1M generated rows, beside reading them from Parquet.

Baseline: ``pandas.read_parquet`` of the same rows. Goal (issue 26): ratio <= 1.5
(:data:`GOAL_RATIO`), validate + split seconds over read seconds, best of ``--repeat`` each.
Also: the same for CSV text (every value a string to coerce) beside ``read_csv``.

    python bench/bench_ingest.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import best_of, write_table  # noqa: E402
from shared.config import load_project  # noqa: E402
from shared.data.contracts import build_contracts  # noqa: E402
from shared.data.generator import TYPED_KINDS, generate_orders  # noqa: E402
from shared.data.validation import split_valid  # noqa: E402

GOAL_RATIO = 1.5  # issue 26: validate + quarantine of 1M rows <= 1.5x the Parquet read


def measure(n_rows: int = 1_000_000, repeat: int = 3, csv_too: bool = True) -> list[dict]:
    """Read and validate+split seconds for Parquet (typed) and CSV (text) of ``n_rows``."""
    cfg = load_project(Path(__file__).resolve().parents[1] / "config" / "project.yaml")
    contracts = build_contracts(cfg, datetime(2026, 11, 1))
    print(f"generating {n_rows:,} orders with 2% bad rows ...", flush=True)
    batch = generate_orders(n_rows, seed=1, bad_fraction=0.02, bad_kinds=TYPED_KINDS)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        pq = Path(tmp) / "orders.parquet"
        # a typed export stores timestamps as timestamps
        typed = batch.orders.assign(created_at=pd.to_datetime(batch.orders["created_at"]))
        typed.to_parquet(pq, index=False)
        csv = Path(tmp) / "orders.csv"
        reads = [("Parquet (typed)", lambda: pd.read_parquet(pq))]
        if csv_too:
            batch.orders.to_csv(csv, index=False)
            reads.append(("CSV (text)", lambda: pd.read_csv(csv, dtype=str)))
        for name, read in reads:
            t_read, df = best_of(read, repeat)
            t_split, result = best_of(lambda df=df: split_valid(df, contracts), repeat)
            assert result.rows_valid + result.rows_quarantined == n_rows
            out.append(
                {
                    "input": name,
                    "read_s": t_read,
                    "split_s": t_split,
                    "quarantined": result.rows_quarantined,
                }
            )
            print(
                f"{name}: read {t_read:.3f}s, validate+split {t_split:.3f}s, "
                f"ratio {t_split / t_read:.2f}, load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rows = [
        [
            m["input"],
            f"{m['read_s']:.3f}",
            f"{m['split_s']:.3f}",
            f"{m['split_s'] / m['read_s']:.2f}",
            f"<= {GOAL_RATIO:g}" if m["input"].startswith("Parquet") else "",
            f"{m['quarantined']:,}",
        ]
        for m in measure(args.rows, args.repeat)
    ]
    write_table(
        "ingest",
        f"Ingest: validate + split {args.rows:,} rows vs reading them (best of {args.repeat})",
        rows,
        ["input", "read s (baseline)", "validate+split s", "ratio", "goal", "quarantined"],
    )


if __name__ == "__main__":
    main()
