"""Partition planning and reading: any cut of any file gives back exactly the rows pandas
reads from the whole file (quoted newlines, blank lines, CRLF, no final newline, chunk
boundaries inside records), and a uniform reservoir sample over parts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared.data import partitions
from shared.data.partitions import PlanError, locate, partition_size, plan, read_partition
from shared.data.sampling import Reservoir

TEXT = (
    "id,note,n\r\n"
    'a1,"two\nlines",1\r\n'
    "\r\n"
    'a2,"quote "" inside",2\n'
    "\n"
    "a3,plain,3\n"
    'a4,"comma, in it",4\n'
    'a5,"",5\n'
    "a6,last,6"
)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 6, 100])
@pytest.mark.parametrize("chunk", [1, 3, 7, 1 << 20])
def test_any_partition_size_reads_back_the_whole_file(
    tmp_path: Path, size: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(partitions, "CHUNK", chunk)
    f = tmp_path / "a.csv"
    f.write_bytes(TEXT.encode())
    whole = pd.read_csv(f, dtype=str)
    parts = plan([("a.csv", str(f), "csv", str(f))], size)
    assert sum(p.rows for p in parts) == len(whole) == 6
    got = pd.concat([read_partition(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(got, whole)


@pytest.mark.parametrize(
    ("rows", "cores", "size"),
    [
        (1, 2, 50_000),  # a small batch is one task: the smallest auto size
        (50_000, 16, 50_000),
        (120_000, 1, 150_000),  # 1 core: one task (whole steps of 50,000)
        (400_000, 2, 200_000),  # 2 cores: 2 tasks
        (700_001, 2, 400_000),  # rounded up to a step: still 2 tasks
        (1_000_000, 2, 500_000),
        (1_000_000, 16, 100_000),  # 10 tasks: whole steps, not 16 of 62,500
        (2_000_000, 2, 500_000),  # at most 500,000 rows a task: 4 tasks, not 2 of 1M
        (5_000_000, 2, 500_000),
    ],
)
def test_auto_sizes_partitions_to_one_task_per_core(rows: int, cores: int, size: int) -> None:
    assert partition_size("auto", rows, cores) == size
    tasks = -(-rows // size)
    assert tasks <= cores or size == partitions.AUTO_MAX


def test_a_number_of_rows_is_used_as_it_is_whatever_the_machine() -> None:
    assert [partition_size(700, rows, cores) for rows, cores in [(10, 1), (10**7, 64)]] == [
        700,
        700,
    ]


@pytest.mark.parametrize("chunk", [1, 5, 1 << 20])
def test_auto_plans_in_one_scan_and_reads_back_the_whole_file(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # auto sizes are multiples of AUTO_STEP, so the one scan keeps a cut every AUTO_STEP rows;
    # a step of 2 rows puts those cuts inside these few records (quotes, blank lines, CRLF)
    monkeypatch.setattr(partitions, "CHUNK", chunk)
    monkeypatch.setattr(partitions, "AUTO_STEP", 2)
    f = tmp_path / "a.csv"
    f.write_bytes(TEXT.encode())
    whole = pd.read_csv(f, dtype=str)
    files = [("a.csv", str(f), "csv", str(f))]
    parts = plan(files, "auto", cores=2)  # 2 tasks: 6 rows in partitions of 4 (2 steps)
    assert partition_size("auto", 6, 2) == 4
    assert [(p.start, p.stop) for p in parts] == [(0, 4), (4, 6)]
    got = pd.concat([read_partition(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(got, whole)
    assert [(p.start, p.stop) for p in plan(files, "auto", cores=3)] == [(0, 2), (2, 4), (4, 6)]
    assert [(p.start, p.stop) for p in plan(files, "auto", cores=1)] == [(0, 6)]


def test_rows_across_files_and_formats_keep_their_order_and_lineage(tmp_path: Path) -> None:
    df = pd.DataFrame({"id": [f"r{i}" for i in range(10)], "x": [str(i) for i in range(10)]})
    df.iloc[:4].to_csv(tmp_path / "0.csv", index=False)
    df.iloc[4:7].to_parquet(tmp_path / "1.parquet", index=False, row_group_size=2)
    df.iloc[7:].to_csv(tmp_path / "2.csv", index=False)
    files = [
        (n, str(tmp_path / n), "parquet" if n.endswith("parquet") else "csv", n)
        for n in ("0.csv", "1.parquet", "2.csv")
    ]
    parts = plan(files, 3)
    assert [(p.start, p.stop) for p in parts] == [(0, 3), (3, 6), (6, 9), (9, 10)]
    got = pd.concat([read_partition(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(got, df)
    part, seg, row = locate(parts, 5)
    assert (part.index, seg.file, row) == (1, "1.parquet", 1)


@pytest.mark.parametrize(
    ("text", "message"), [(b"", "file is empty"), (b"id,x\n\n", "has a header but no data rows")]
)
def test_files_without_rows_are_one_line(tmp_path: Path, text: bytes, message: str) -> None:
    f = tmp_path / "e.csv"
    f.write_bytes(text)
    with pytest.raises(PlanError, match=message):
        plan([("e.csv", str(f), "csv", str(f))], 10)


def test_the_reservoir_is_a_uniform_sample_of_every_part() -> None:
    hits = np.zeros(100)
    for seed in range(400):
        r = Reservoir(10, seed)
        for a in range(0, 100, 7):  # parts of uneven size
            r.add(pd.DataFrame({"i": range(a, min(a + 7, 100))}))
        s = r.frame()["i"].to_numpy()
        assert len(s) == 10 and len(set(s)) == 10 and list(s) == sorted(s)
        hits[s] += 1
    assert r.seen == 100
    assert hits.min() > 15 and hits.max() < 70  # each row about 40 times in 400 samples
