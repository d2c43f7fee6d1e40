"""Partitioned data end to end, through the flows as users run them (Metaflow Runner and CLI):
a raw batch of many files, partitions validated and scored each on its own, parts and
manifests, exact lineage, and a killed partition task resumed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from shared.config import load_project
from shared.config.settings import machine_cores
from shared.data.generator import generate_orders
from shared.data.ingest import land_raw
from shared.data.manifest import MANIFEST, read_manifest
from shared.data.partitions import locate, partition_size
from shared.data.partvalidate import validate_batch
from shared.ledger import Ledger
from shared.operate.scoring import fresh_batch_start
from tests.builders import build, release
from tests.conftest import write_project
from tests.flows.helpers import INGEST, SCORE, cli_run, run_flow

pytestmark = pytest.mark.slow


def _split_files(df: pd.DataFrame, folder: Path, cuts: list[int], parquet: bool = False) -> Path:
    """Write ``df`` as files cut at ``cuts`` (row numbers) in ``folder``, in name order."""
    folder.mkdir(parents=True)
    bounds = [0, *cuts, len(df)]
    for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        chunk = df.iloc[a:b]
        if parquet and i == len(bounds) - 2:  # the last file as Parquet (text, as exported)
            chunk.astype("string").to_parquet(folder / f"orders-{i:02d}.parquet", index=False)
        else:
            chunk.to_csv(folder / f"orders-{i:02d}.csv", index=False)
    return folder


def test_a_prefix_of_many_files_is_one_dataset_version_whatever_the_split(tmp_path: Path) -> None:
    project = write_project(tmp_path, storage__partition_rows=700)
    g = generate_orders(3000, seed=3, bad_fraction=0.03, start="2026-10-01", days=14)
    one = tmp_path / "one.csv"
    g.orders.to_csv(one, index=False)
    run, status, stdout, _ = run_flow(INGEST, project, source=str(one))
    assert status == "successful", stdout
    ledger = Ledger.open(load_project(project).storage.ledger_url)
    [ds] = ledger.datasets.all()
    # the same rows as three files cut elsewhere (not at partition bounds), given as a folder
    folder = _split_files(g.orders, tmp_path / "batch", [1000, 1234])
    run2, status, stdout, _ = run_flow(INGEST, project, source=str(folder))
    assert status == "successful", stdout
    assert "same data as an existing version" in stdout
    assert [d.version for d in ledger.datasets.all()] == [ds.version]
    # conservation: per partition and in total, in the manifests and the ledger
    m = read_manifest(ds.location)
    assert len(m.parts) == 5 and [p.input_start for p in m.parts] == [0, 700, 1400, 2100, 2800]
    for p in m.parts:
        c = p.counts
        assert (
            c["rows_in"] == p.input_stop - p.input_start == c["rows_valid"] + c["rows_quarantined"]
        )
    assert m.totals == {
        "rows_in": 3000,
        "rows_valid": ds.rows_valid,
        "rows_quarantined": ds.rows_quarantined,
    }
    assert ds.rows_in == 3000 == ds.rows_valid + ds.rows_quarantined and ds.rows_quarantined >= 60
    assert pd.read_parquet(ds.location).shape[0] == ds.rows_valid  # a Parquet dataset folder
    # the second run's partitions read rows from several files; lineage names them
    out2 = run2["join"].task.data.outcome
    q = read_manifest(out2.quarantine_uri)
    assert q.parts[1].sources == [
        {"file": "orders-00.csv", "row_start": 700, "row_stop": 1000},
        {"file": "orders-01.csv", "row_start": 0, "row_stop": 234},
        {"file": "orders-02.csv", "row_start": 0, "row_stop": 166},
    ]
    # each raw file landed byte for byte
    raw = run2["start"].task.data.raw
    assert [f.name for f in raw.files] == ["orders-00.csv", "orders-01.csv", "orders-02.csv"]
    for f in raw.files:
        assert Path(f.uri).read_bytes() == (folder / f.name).read_bytes()
    # no staging left behind
    staging = Path(load_project(project).storage.data_root) / "datasets" / "_staging"
    assert list(staging.iterdir()) == []


def test_a_duplicate_id_across_two_partitions_is_quarantined(tmp_path: Path) -> None:
    project = write_project(tmp_path, storage__partition_rows=400)
    g = generate_orders(1000, seed=4, bad_fraction=0.0, start="2026-10-01", days=14)
    orders = g.orders.copy()
    orders.loc[900, "order_id"] = orders.loc[10, "order_id"]  # partition 2 repeats partition 0
    src = tmp_path / "dup.csv"
    orders.to_csv(src, index=False)
    run, status, stdout, _ = run_flow(INGEST, project, source=str(src))
    assert status == "successful", stdout
    ledger = Ledger.open(load_project(project).storage.ledger_url)
    [ds] = ledger.datasets.all()
    assert ds.rows_valid == 999 and ds.rows_quarantined == 1
    data = pd.read_parquet(ds.location)
    assert data["order_id"].is_unique and orders.loc[10, "order_id"] in set(data["order_id"])
    summary = ledger.datasets.quarantine(ds.version)
    assert [(c.column, c.check, c.rows) for c in summary.by_check] == [("order_id", "unique", 1)]
    q = pd.read_parquet(run["join"].task.data.outcome.quarantine_uri)
    assert list(q["_row"]) == [900] and q["_reasons"][0][0]["check"] == "unique"
    m = read_manifest(ds.location)
    assert [p.counts["rows_quarantined"] for p in m.parts] == [0, 0, 1]
    # the whole batch in one partition finds the same duplicate and the same version
    cfg = load_project(project)
    root = str(tmp_path / "whole")
    whole, _ = validate_batch(land_raw(str(src), root), cfg, root, datetime.now(), 10_000)
    assert whole.dataset_version == ds.version and whole.rows_quarantined == 1


def test_auto_partitions_fit_the_machine_and_keep_the_dataset_version(tmp_path: Path) -> None:
    # issue 26: the shipped default sizes partitions to the machine's cores (one task each);
    # 60,000 rows are more than the smallest auto size (50,000): two tasks on 2 cores or more
    project = write_project(tmp_path, storage__partition_rows="auto")
    cfg = load_project(project)
    assert cfg.storage.partition_rows == "auto"
    g = generate_orders(60_000, seed=5, bad_fraction=0.02, start="2026-10-01", days=14)
    src = tmp_path / "big.csv"
    g.orders.to_csv(src, index=False)
    run, status, stdout, _ = run_flow(INGEST, project, source=str(src))
    assert status == "successful", stdout
    size = partition_size("auto", 60_000, machine_cores())
    parts = run["start"].task.data.parts
    assert [(p.start, p.stop) for p in parts] == [
        (a, min(a + size, 60_000)) for a in range(0, 60_000, size)
    ]
    assert len(parts) == len(list(run["validate"].tasks()))  # one foreach task each
    assert len(parts) == min(2, machine_cores())
    [ds] = Ledger.open(cfg.storage.ledger_url).datasets.all()
    assert [p.input_start for p in read_manifest(ds.location).parts] == [p.start for p in parts]
    # the same file cut at a fixed size (another number of partitions): the same version
    root = str(tmp_path / "fixed")
    fixed, _ = validate_batch(land_raw(str(src), root), cfg, root, datetime.now(), 7_000)
    assert fixed.dataset_version == ds.version and fixed.rows_in == ds.rows_in == 60_000
    assert fixed.rows_quarantined == ds.rows_quarantined > 0


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("deployed")
    t = build(tmp, f"sqlite:///{tmp / 'ledger.db'}", runs=1)
    [v] = t.candidates
    release(t.ledger, t.roles, t.cfg, t.rules, v, "first")
    g = generate_orders(
        900, seed=77, bad_fraction=0.05, start=fresh_batch_start(), days=1, id_prefix="p"
    )
    return t, g, tmp


def test_score_output_rows_map_back_to_input_rows_exactly(deployed) -> None:
    t, g, tmp = deployed
    folder = _split_files(g.orders, tmp / "to_score", [250, 520], parquet=True)
    run, status, stdout, _ = run_flow(SCORE, t.project_path, source=str(folder), partition_rows=400)
    assert status == "successful", stdout
    [batch] = [b for b in t.ledger.operations.scoring_batches() if b.flow_run == run.pathspec]
    m = read_manifest(batch.output_uri)
    assert [p.name for p in m.parts] == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert m.rows == batch.rows == 900 and m.totals == batch.decisions
    parts = run["start"].task.data.parts
    raw = run["start"].task.data.raw
    files = {f.name: f for f in raw.files}
    for entry in m.parts:
        out = pd.read_parquet(Path(batch.output_uri) / entry.name)
        assert list(out["input_row"]) == list(range(entry.input_start, entry.input_stop))
        for _, row in out.iterrows():  # output row -> partition -> raw file and its row
            part, seg, file_row = locate(parts, int(row["input_row"]))
            assert part.index == int(entry.name[5:10])
            f = files[seg.file]
            raw_rows = (
                pd.read_parquet(f.uri) if f.format == "parquet" else pd.read_csv(f.uri, dtype=str)
            )
            ids = raw_rows["order_id"].fillna("").astype(str)
            assert ids.iloc[file_row] == row["row_id"]
            assert g.orders["order_id"].fillna("").iloc[int(row["input_row"])] == row["row_id"]
            break  # one row per part reads every file; the full check follows
    out = pd.read_parquet(batch.output_uri)
    assert list(out["row_id"]) == list(g.orders["order_id"].fillna("").astype(str))


def test_a_killed_score_task_resumed_leaves_no_duplicate_part(deployed) -> None:
    t, g, tmp = deployed
    src = tmp / "kill.csv"
    g.orders.to_csv(src, index=False)
    first, status, _, _ = run_flow(
        SCORE,
        t.project_path,
        env={"RENKEI_INJECT_FAULT": "score-kill"},
        source=str(src),
        partition_rows=400,
    )
    assert status == "failed"
    prefix = Path(t.cfg.storage.data_root) / "scores" / first.id
    written = sorted(p.name for p in prefix.iterdir())
    assert written and MANIFEST not in written  # parts written, then the tasks were killed
    p = cli_run(SCORE, "resume", "--origin-run-id", first.id)
    assert p.returncode == 0, p.stdout + p.stderr
    [batch] = [b for b in t.ledger.operations.scoring_batches() if b.input_uri.endswith("kill.csv")]
    assert batch.output_uri == str(prefix)
    names = sorted(p.name for p in prefix.iterdir())
    assert names == [MANIFEST, "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    out = pd.read_parquet(prefix)
    assert len(out) == 900 and list(out["input_row"]) == list(range(900))


def test_a_file_whose_columns_differ_is_refused_in_one_line_before_any_row(
    tmp_path: Path,
) -> None:
    """A batch whose second file lacks a column: the run fails at planning with one line
    naming the file and the column (before, its rows were quarantined as empty values or the
    batch refused, depending on where the partition bounds fell); nothing is recorded."""
    project = write_project(tmp_path, storage__partition_rows=700)
    g = generate_orders(1000, seed=5, start="2026-10-01", days=14)
    folder = tmp_path / "batch"
    folder.mkdir()
    g.orders.iloc[:600].to_csv(folder / "a.csv", index=False)
    g.orders.iloc[600:].drop(columns=["rain"]).to_csv(folder / "b.csv", index=False)
    _, status, stdout, stderr = run_flow(INGEST, project, source=str(folder))
    assert status == "failed"
    [line] = [x for x in (stdout + stderr).splitlines() if "columns differ" in x]
    assert "b.csv" in line and "missing: rain" in line and "Traceback" not in stdout + stderr
    ledger = Ledger.open(load_project(project).storage.ledger_url)
    assert ledger.datasets.all() == [] and ledger.runs.all()[0].status == "failed"
