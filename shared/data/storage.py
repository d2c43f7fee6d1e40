"""Read and write bytes at a local path or an ``s3://`` URI (boto3 honours AWS_ENDPOINT_URL):
whole, by byte range, streamed, and listed under a prefix."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported where a frame is read: a step that only moves
    import pandas as pd  # bytes (a flow's join, end) does not load it


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
    if is_s3(uri):  # a HEAD request: nothing is downloaded
        from botocore.exceptions import ClientError

        bucket, key = _split_s3(uri)
        try:
            _s3().head_object(Bucket=bucket, Key=key)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NoSuchBucket"):
                return False
            raise
        return True
    return Path(uri).exists()


def parquet_bytes(df: pd.DataFrame) -> bytes:
    """A frame as Parquet bytes (Arrow types only: readable by any Parquet reader)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    if any(pa.types.is_null(f.type) for f in table.schema):  # an empty or all-None text
        # column is text: parts of one output then share one schema (readable as a dataset)
        schema = pa.schema(
            [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]
        )
        table = table.cast(schema)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def write_parquet(df: pd.DataFrame, uri: str) -> None:
    """Write a frame as Parquet (Arrow types only: readable by any Parquet reader)."""
    write_bytes(uri, parquet_bytes(df))


def read_parquet(uri: str) -> pd.DataFrame:
    """A Parquet file, or a partitioned prefix (parts + manifest) read whole: readers of large
    outputs iterate the parts instead (:func:`shared.data.manifest.iter_frames`)."""
    import pandas as pd

    if not uri.endswith((".parquet", ".pq")):
        from shared.data.manifest import read_frame

        return read_frame(uri)
    return pd.read_parquet(io.BytesIO(read_bytes(uri)))


def is_prefix(uri: str) -> bool:
    """A directory or s3:// prefix (not one object): ends in '/', or is a local directory."""
    return uri.endswith("/") or (not is_s3(uri) and Path(uri).is_dir())


def list_files(prefix: str) -> list[str]:
    """Every file under a local directory or s3:// prefix, sorted by name, skipping names that
    start with '.' or '_' (markers and manifests, as Parquet readers do)."""

    def hidden(rel: str) -> bool:
        return any(p.startswith((".", "_")) for p in rel.split("/") if p)

    if is_s3(prefix):
        bucket, key = _split_s3(prefix.rstrip("/") + "/")
        pages = _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
        return sorted(
            f"s3://{bucket}/{k}" for k in keys if not k.endswith("/") and not hidden(k[len(key) :])
        )
    root = Path(prefix)
    return sorted(
        str(p) for p in root.rglob("*") if p.is_file() and not hidden(str(p.relative_to(root)))
    )


def read_range(uri: str, start: int, stop: int) -> bytes:
    """Bytes ``[start, stop)`` of a file or object, reading only those (an S3 range GET)."""
    if stop <= start:
        return b""
    if is_s3(uri):
        bucket, key = _split_s3(uri)
        r = _s3().get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{stop - 1}")
        return r["Body"].read()
    with open(uri, "rb") as f:
        f.seek(start)
        return f.read(stop - start)


class _S3Reader(io.RawIOBase):
    """A seekable read-only view of an S3 object by range GETs (Parquet footers, row groups)."""

    def __init__(self, uri: str) -> None:
        bucket, key = _split_s3(uri)
        self.uri, self.pos = uri, 0
        self.size = _s3().head_object(Bucket=bucket, Key=key)["ContentLength"]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: 0, 1: self.pos, 2: self.size}[whence] + offset
        return self.pos

    def readinto(self, b: Any) -> int:
        data = read_range(self.uri, self.pos, min(self.pos + len(b), self.size))
        b[: len(data)] = data
        self.pos += len(data)
        return len(data)


def open_read(uri: str) -> io.BufferedReader:
    """A seekable binary reader of a local file or an S3 object (only what is read is fetched)."""
    if is_s3(uri):
        return io.BufferedReader(_S3Reader(uri), buffer_size=1 << 20)
    return open(uri, "rb")  # noqa: SIM115  (the caller closes it)


def copy(src: str, dst: str) -> None:
    """Copy a file or object to ``dst`` streaming (never whole in memory), atomically locally."""
    if is_s3(dst):
        bucket, key = _split_s3(dst)
        if is_s3(src):
            sb, sk = _split_s3(src)
            _s3().copy({"Bucket": sb, "Key": sk}, bucket, key)
        else:
            _s3().upload_file(src, bucket, key)
        return
    p = Path(dst)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as out, open_read(src) as f:
            shutil.copyfileobj(f, out, 1 << 22)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_prefix(prefix: str) -> None:
    """Delete everything under a local directory or s3:// prefix (staging areas)."""
    if is_s3(prefix):
        bucket, key = _split_s3(prefix.rstrip("/") + "/")
        pages = _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        for page in pages:
            objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objs:
                _s3().delete_objects(Bucket=bucket, Delete={"Objects": objs})
        return
    shutil.rmtree(prefix, ignore_errors=True)
