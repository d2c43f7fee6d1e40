"""The spilled time split (training.memory: external) holds the same rows as the in-memory
one, ties at the cut points included; the setting picks the path; its default keeps hashes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared.config import MemorySettings, ProjectConfig, load_project
from shared.data.contracts import build_contracts
from shared.data.generator import generate_orders
from shared.data.manifest import (
    Manifest,
    PartEntry,
    iter_frames,
    part_name,
    write_manifest,
    write_part,
)
from shared.data.validation import split_valid
from shared.training import assemble, split_by_time
from shared.training.external import spill_split, use_external

REPO = Path(__file__).resolve().parents[2]
CFG = load_project(REPO / "config" / "project.yaml")


def _with_memory(**memory: object) -> ProjectConfig:
    data = CFG.model_dump()
    data["training"]["memory"] = {**data["training"]["memory"], **memory}
    return ProjectConfig.model_validate(data)


def _write_parts(rows: pd.DataFrame, prefix: Path, size: int) -> str:
    entries = []
    for i, a in enumerate(range(0, len(rows), size)):
        n, sha = write_part(
            rows.iloc[a : a + size].reset_index(drop=True), str(prefix / part_name(i))
        )
        entries.append(PartEntry(part_name(i), n, sha))
    write_manifest(str(prefix), Manifest("dataset", tuple(entries)))
    return str(prefix)


@pytest.mark.parametrize("shuffle", [False, True])
def test_the_spilled_split_holds_the_rows_of_the_in_memory_split(
    tmp_path: Path, shuffle: bool
) -> None:
    batch = generate_orders(3000, seed=3)
    valid = split_valid(batch.orders, build_contracts(CFG)).valid
    # many rows share a timestamp (floored to the hour), so the cut points fall inside ties
    valid["created_at"] = pd.to_datetime(valid["created_at"]).dt.floor("h")
    if shuffle:  # parts out of time order: a later part holds older rows
        valid = valid.sample(frac=1.0, random_state=1).reset_index(drop=True)
    labels = batch.labels.iloc[: int(len(batch.labels) * 0.9)]  # some rows unlabelled
    # two label batches, the second correcting some labels of the first (the last wins)
    fixed = labels.iloc[:300].assign(delivery_minutes=lambda f: f["delivery_minutes"] + 1.0)
    paths = [str(tmp_path / "labels-1.parquet"), str(tmp_path / "labels-2.parquet")]
    labels.to_parquet(paths[0])
    fixed.to_parquet(paths[1])
    labels = pd.concat([labels, fixed], ignore_index=True)
    mem = split_by_time(assemble([valid], [labels], CFG), CFG)
    spilled = spill_split(
        [(_write_parts(valid, tmp_path / "ds", 700), paths)], CFG, str(tmp_path / "split")
    )
    assert spilled.sizes == mem.sizes
    for part in ("train", "validation", "holdout"):
        got = pd.concat(list(spilled.frames(part)), ignore_index=True)
        want = getattr(mem, part)
        assert sorted(got["order_id"]) == sorted(want["order_id"]), part
        merged = want.merge(got, on="order_id", suffixes=("", "_spilled"))
        assert np.allclose(merged["delivery_minutes"], merged["delivery_minutes_spilled"])
    # the sample: seeded, at most sample_rows, the same on every call
    small = spill_split(
        [(str(tmp_path / "ds"), paths)],
        _with_memory(sample_rows=1000),
        str(tmp_path / "split2"),
    )
    a, b = small.sample("train"), small.sample("train")
    assert len(a) == 1000 and a["order_id"].tolist() == b["order_id"].tolist()
    assert a["order_id"].is_unique


def test_memory_mode_picks_the_path_and_the_default_keeps_the_config_hash() -> None:
    assert MemorySettings() == CFG.training.memory and CFG.training.memory.mode == "auto"
    above = CFG.training.memory.external_above_rows
    assert not use_external(CFG, above) and use_external(CFG, above + 1)
    assert use_external(_with_memory(mode="external"), 100)
    assert not use_external(_with_memory(mode="in_memory"), 10 * above)
    # the default adds nothing to the hash recorded with every model version; a change does
    data = CFG.model_dump()
    del data["training"]["memory"]
    assert ProjectConfig.model_validate(data).config_hash() == CFG.config_hash()
    assert _with_memory(mode="external").config_hash() != CFG.config_hash()


def test_a_task_reads_the_parts_in_batches_of_at_most_batch_rows(tmp_path: Path) -> None:
    """What a task holds at once does not grow with the parts (issue 26 item 3): every part
    is read in batches of at most ``batch_rows`` rows, the same rows in the same order as
    the whole parts, and the seeded sample does not depend on the batch size."""
    batch = generate_orders(4000, seed=5)
    valid = split_valid(batch.orders, build_contracts(CFG)).valid
    path = str(tmp_path / "labels.parquet")
    batch.labels.to_parquet(path)
    ds = _write_parts(valid, tmp_path / "ds", 1500)
    whole = spill_split([(ds, [path])], _with_memory(sample_rows=1000), str(tmp_path / "a"))
    small = spill_split(
        [(ds, [path])], _with_memory(sample_rows=1000, batch_rows=250), str(tmp_path / "b")
    )
    assert whole.batch_rows == MemorySettings().batch_rows and small.batch_rows == 250
    for part in ("train", "validation", "holdout"):
        batches = list(small.frames(part))
        assert max(len(b) for b in batches) <= 250
        assert len(batches) > len(list(iter_frames(small.prefixes[part])))  # parts split
        got = pd.concat(batches, ignore_index=True)
        want = pd.concat(list(iter_frames(whole.prefixes[part])), ignore_index=True)
        pd.testing.assert_frame_equal(got, want)
    pd.testing.assert_frame_equal(small.sample("train"), whole.sample("train"))
