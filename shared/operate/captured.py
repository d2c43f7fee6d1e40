"""Operate: the captured online answers on storage (shared.operate.capture writes them):
listing the day partitions (local or ``s3://``), retention, and reading them back."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd

from shared.data import storage

CAPTURE_DIR = "capture"
# the metadata and shadow columns every captured answer carries (beside its features)
COLUMNS = [
    "request_id",
    "row_index",
    "row_id",
    "caller",
    "received_at",
    "alias",
    "deployment_id",
    "model_version",
    "rules_version",
    "prediction",
    "predicted_class",
    "decision",
    "reasons",
    "shadow_deployment_id",
    "shadow_version",
    "shadow_prediction",
    "shadow_predicted_class",
    "shadow_decision",
    "shadow_reasons",
]


def capture_root(data_root: str) -> str:
    return storage.join(data_root, CAPTURE_DIR)


def capture_files(data_root: str) -> list[str]:
    """Every captured Parquet file (local or s3://), oldest partition first."""
    root = capture_root(data_root)
    if storage.is_s3(root):
        bucket, prefix = storage._split_s3(root)
        pages = (
            storage._s3()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/")
        )
        keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
        return sorted(f"s3://{bucket}/{k}" for k in keys if k.endswith(".parquet"))
    return sorted(str(p) for p in Path(root).glob("alias=*/date=*/*.parquet"))


def _partition_date(uri: str) -> date | None:
    for part in uri.split("/"):
        if part.startswith("date="):
            try:
                return date.fromisoformat(part[5:])
            except ValueError:
                return None
    return None


def prune(data_root: str, retention_days: int, today: date | None = None) -> int:
    """Delete captured date partitions older than ``retention_days`` before ``today``."""
    cutoff = (today or datetime.now(UTC).date()) - timedelta(days=retention_days)
    old = [u for u in capture_files(data_root) if (d := _partition_date(u)) and d < cutoff]
    if storage.is_s3(data_root):
        client = storage._s3()
        for u in old:
            bucket, key = storage._split_s3(u)
            client.delete_object(Bucket=bucket, Key=key)
        return len(old)
    folders = {str(Path(u).parent) for u in old}
    for f in folders:
        shutil.rmtree(f, ignore_errors=True)
    return len(old)


def read_capture(data_root: str, alias: str | None = None) -> pd.DataFrame:
    """Every captured answer (of ``alias`` when given), oldest first; empty when none."""
    files = capture_files(data_root)
    if alias is not None:
        files = [f for f in files if f"/alias={alias}/" in f.replace("\\", "/")]
    frames = [storage.read_parquet(f) for f in files]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["received_at", "request_id", "row_index"], kind="stable").reset_index(
        drop=True
    )


def request_answers(data_root: str, request_id: str) -> pd.DataFrame:
    """The captured answers of one online request (empty when it was not captured)."""
    rows = read_capture(data_root)
    return rows[rows["request_id"] == request_id].reset_index(drop=True)
