"""Plain-script baselines for the ingest and score flows: one process, no Metaflow, no ledger.

What a user would write with Renkei's library instead of running a flow, doing the flow's
reads, checks and writes on the same files, so ``flow seconds / plain seconds`` is the cost
of the flow (its tasks, artifacts, landing, manifests and ledger records):

- ``ingest``: read every CSV file of the folder (name order) as text, as the flow reads them
  (``shared.data.rawread.read_raw``); validate the whole batch at once with the project's
  contract (``split_valid``: every check on every row, ids repeated anywhere in the batch
  quarantined after their first row, as the flow's join does across partitions); write the
  valid rows, the quarantined rows and their reasons to Parquet (the library's writer, as
  the flow: Arrow types only, readable by any Parquet reader); the dataset version (the
  sha256 the flow computes from the valid rows' content hashes).
- ``score``: load the bundle (its sha256 checked, as each score task does) and, file by file,
  read the rows, answer them with the guard (``GuardedModel.predict``: the same input rules,
  model or baseline, output rules) and write the answers with their input row numbers.

    python bench/plain.py ingest --project P --source DIR --out DIR
    python bench/plain.py score --bundle PATH --sha256 HEX --source DIR --out DIR

Each prints one JSON line: the counts (for the bench to check against the flow's), the
seconds of the work after the imports (the bench times the whole process, imports included)
and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from shared.data import storage  # noqa: E402
from shared.data.rawread import read_raw  # noqa: E402


def csv_files(source: Path) -> list[Path]:
    """The CSV files of a folder in name order (the order the flows read a folder in)."""
    files = sorted(p for p in source.iterdir() if p.suffix.lower() == ".csv")
    if not files:
        raise SystemExit(f"{source}: no .csv files; pass a folder of CSV files")
    return files


def dataset_version(valid: pd.DataFrame) -> str:
    """The dataset version of these valid rows, as the ingest flow computes it: the sha256 of
    the schema version, the column types and every row's content hash in input order."""
    from shared.data.contracts import SCHEMA_VERSION

    dtypes = ",".join(f"{c}:{t}" for c, t in valid.dtypes.astype(str).items())
    h = hashlib.sha256()
    h.update(SCHEMA_VERSION.encode())
    h.update(dtypes.encode())
    h.update(pd.util.hash_pandas_object(valid, index=False).to_numpy().tobytes())
    return "ds-" + h.hexdigest()[:16]


def ingest(project: Path, source: Path, out: Path) -> dict[str, Any]:
    """Read, validate and write a folder of CSV files; counts, version and seconds."""
    from shared.config import load_project
    from shared.data.contracts import build_contracts
    from shared.data.validation import split_valid

    t0 = time.perf_counter()
    contracts = build_contracts(load_project(project))
    frames = [read_raw(p.read_bytes(), p.name, "csv") for p in csv_files(source)]
    raw = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    del frames
    split = split_valid(raw, contracts)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (
        ("valid", split.valid),
        ("quarantine", split.quarantined),
        ("reasons", split.reasons),
    ):
        storage.write_parquet(frame, str(out / f"{name}.parquet"))
    return {
        "rows_in": split.rows_in,
        "rows_valid": split.rows_valid,
        "rows_quarantined": split.rows_quarantined,
        "dataset_version": dataset_version(split.valid),
        "work_s": time.perf_counter() - t0,
    }


def score(bundle: Path, sha256: str, source: Path, out: Path) -> dict[str, Any]:
    """Answer every row of a folder of CSV files with a bundle, file by file; counts and
    seconds."""
    from shared.guard.bundle import digest, load_bundle

    t0 = time.perf_counter()
    data = bundle.read_bytes()
    if digest(data) != sha256:
        raise SystemExit(f"{bundle}: sha256 differs from the one given; pass the deployed bundle")
    guarded = load_bundle(data)
    out.mkdir(parents=True, exist_ok=True)
    rows, decisions = 0, {}
    for i, p in enumerate(csv_files(source)):
        chunk = read_raw(p.read_bytes(), p.name, "csv")
        answers = guarded.predict(chunk)
        answers.insert(0, "input_row", np.arange(rows, rows + len(chunk), dtype="int64"))
        storage.write_parquet(answers, str(out / f"part-{i:05d}.parquet"))
        for d, n in answers["decision"].value_counts().items():
            decisions[str(d)] = decisions.get(str(d), 0) + int(n)
        rows += len(chunk)
    return {"rows": rows, "decisions": decisions, "work_s": time.perf_counter() - t0}


def peak_rss_mib() -> float:
    """This process's peak resident memory, MiB: Linux's VmHWM, the high-water mark of this
    program's own memory. (``ru_maxrss`` also counts the parent's resident memory when it
    started this process: Linux carries it over the exec, so the bench process's own size
    would show as the script's.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    i = sub.add_parser("ingest", help="validate a folder of CSV files into Parquet")
    i.add_argument("--project", type=Path, required=True, help="the project's project.yaml")
    s = sub.add_parser("score", help="answer a folder of CSV files with a bundle")
    s.add_argument("--bundle", type=Path, required=True)
    s.add_argument("--sha256", required=True, help="the deployment's bundle digest")
    for p in (i, s):
        p.add_argument("--source", type=Path, required=True, help="a folder of CSV files")
        p.add_argument("--out", type=Path, required=True, help="where the Parquet files go")
    args = ap.parse_args()
    if args.what == "ingest":
        result = ingest(args.project, args.source, args.out)
    else:
        result = score(args.bundle, args.sha256, args.source, args.out)
    result["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
