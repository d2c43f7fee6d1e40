"""Read and write bytes at a local path or an ``s3://`` URI (boto3 honours AWS_ENDPOINT_URL)."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def join(root: str, *parts: str) -> str:
    """Join a data root (local dir or s3:// prefix) with path parts."""
    if is_s3(root):
        return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts)])
    return str(Path(root, *parts))


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _s3() -> Any:
    import boto3

    return boto3.client("s3")


def read_bytes(uri: str) -> bytes:
    """The bytes at ``uri``; FileNotFoundError when there is nothing there."""
    if is_s3(uri):
        bucket, key = _split_s3(uri)
        client = _s3()
        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            raise FileNotFoundError(uri) from None
        except client.exceptions.NoSuchBucket:
            raise FileNotFoundError(uri) from None
    return Path(uri).read_bytes()


def write_bytes(uri: str, data: bytes) -> None:
    """Write ``data`` at ``uri`` atomically: readers see the old bytes or the new, never part.

    Locally through a temporary file with a unique name beside the target (two writers of the
    same path never share one), removed if anything fails (a full disk leaves nothing behind).
    """
    if is_s3(uri):
        bucket, key = _split_s3(uri)
        _s3().put_object(Bucket=bucket, Key=key, Body=data)
        return
    p = Path(uri)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_once(uri: str, data: bytes) -> bool:
    """Write immutable content-addressed bytes: True if written, False if already there.

    Never rewrites: bytes already at ``uri`` are left as they are (the caller verifies them).
    """
    if exists(uri):
        return False
    write_bytes(uri, data)
    return True


def exists(uri: str) -> bool:
    if is_s3(uri):
        try:
            read_bytes(uri)
        except FileNotFoundError:
            return False
        return True
    return Path(uri).exists()


def write_parquet(df: pd.DataFrame, uri: str) -> None:
    """Write a frame as Parquet (Arrow types only: readable by any Parquet reader)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    write_bytes(uri, buf.getvalue())


def read_parquet(uri: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(read_bytes(uri)))
