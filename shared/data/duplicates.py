"""Duplicate ids across partitions, found by hash buckets: no step holds every id at once.

Each partition writes the ids of its rows (those with an id), their input row and their
position among its valid rows, sorted into ``buckets`` hash buckets, one Parquet row group per
bucket. The join reads one bucket at a time from every partition (one row group each), so its
memory is about one bucket (input rows / buckets ids). As in a whole-batch check, the first
row with an id (in input order) keeps it and every later valid row with that id is a duplicate.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shared.data import storage


def write_ids(
    ids: pd.Series, quarantined: np.ndarray, start: int, buckets: int, uri: str
) -> dict[int, int]:
    """Write one partition's ids by bucket; return bucket -> row group.

    ``quarantined``: the partition's rows (0-based) already quarantined; ``start``: the input
    row of its first row."""
    n = len(ids)
    valid = np.ones(n, dtype=bool)
    valid[quarantined] = False
    valid_pos = np.where(valid, np.cumsum(valid) - 1, -1)
    present = ids.notna().to_numpy()
    rows = np.flatnonzero(present)
    keys = ids[present].astype(str).to_numpy(dtype=object)
    frame = pd.DataFrame(
        {
            "id": keys,
            "row": (rows + start).astype("int64"),
            "valid_pos": valid_pos[rows].astype("int64"),
            "bucket": (pd.util.hash_array(keys) % max(1, buckets)).astype("int32"),
        }
    ).sort_values(["bucket", "row"], kind="stable")
    groups: dict[int, int] = {}
    buf = io.BytesIO()
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("row", pa.int64()),
            ("valid_pos", pa.int64()),
            ("bucket", pa.int32()),
        ]
    )
    with pq.ParquetWriter(buf, schema) as w:
        for b, g in frame.groupby("bucket", sort=True):
            groups[int(b)] = len(groups)
            w.write_table(pa.Table.from_pandas(g, schema=schema, preserve_index=False), len(g))
    storage.write_bytes(uri, buf.getvalue())
    return groups


def cross_part_duplicates(
    parts: list[tuple[int, str, dict[int, int]]], buckets: int
) -> dict[int, pd.DataFrame]:
    """Valid rows whose id an earlier row has, per partition index: columns row, valid_pos.

    ``parts``: (partition index, ids uri, bucket -> row group) for every partition."""
    found = []
    for b in range(max(1, buckets)):
        frames = []
        for index, uri, groups in parts:
            if b in groups:
                with storage.open_read(uri) as f:
                    t = pq.ParquetFile(f).read_row_group(
                        groups[b], columns=["id", "row", "valid_pos"]
                    )
                frames.append(t.to_pandas().assign(part=index))
        if not frames:
            continue
        ids = pd.concat(frames, ignore_index=True).sort_values("row", kind="stable")
        dup = ids["id"].duplicated(keep="first").to_numpy() & (ids["valid_pos"].to_numpy() >= 0)
        if dup.any():
            found.append(ids[dup])
    if not found:
        return {}
    moved = pd.concat(found, ignore_index=True)
    return {
        int(k): g[["row", "valid_pos"]].sort_values("row").reset_index(drop=True)
        for k, g in moved.groupby("part")
    }
