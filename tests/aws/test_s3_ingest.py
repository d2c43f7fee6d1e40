"""Ingest from and into S3 (a moto server on loopback), through the flow as a user runs it."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from shared.data import storage
from shared.data.generator import generate_orders
from shared.data.manifest import read_manifest
from shared.ledger import Ledger
from tests.aws.conftest import AWS_TEST_ENV
from tests.conftest import write_project
from tests.flows.helpers import INGEST, cli_run

pytestmark = pytest.mark.slow


def test_ingest_reads_an_s3_source_and_writes_to_an_s3_data_root(
    moto_server: str, tmp_path: Path
) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_server)
    s3.create_bucket(Bucket="raw-orders")
    s3.create_bucket(Bucket="renkei-data")
    body = generate_orders(800, seed=4, bad_fraction=0.05).orders.to_csv(index=False).encode()
    s3.put_object(Bucket="raw-orders", Key="2026/10/orders.csv", Body=body)
    project = write_project(tmp_path, storage__data_root="s3://renkei-data/eta")
    env = {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": moto_server}
    p = cli_run(
        INGEST,
        "--config",
        "project",
        str(project),
        "run",
        "--source",
        "s3://raw-orders/2026/10/orders.csv",
        env=env,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    [ds] = Ledger.open(url).datasets.all()
    assert (
        ds.rows_in == 800
        and ds.rows_valid + ds.rows_quarantined == 800
        and ds.rows_quarantined == 40
    )
    assert ds.location.startswith("s3://renkei-data/eta/datasets/")
    assert ds.raw_uri.startswith("s3://renkei-data/eta/raw/")
    assert storage.read_bytes(ds.raw_uri) == body  # kept byte for byte, in S3
    assert len(storage.read_parquet(ds.location)) == ds.rows_valid
    # a missing object is one clear line too
    p = cli_run(
        INGEST,
        "--config",
        "project",
        str(project),
        "run",
        "--source",
        "s3://raw-orders/nope.csv",
        env=env,
    )
    assert p.returncode != 0 and "s3://raw-orders/nope.csv: file not found" in p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr


def test_ingest_reads_an_s3_prefix_of_files_partition_by_partition(
    moto_server: str, tmp_path: Path
) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_server)
    s3.create_bucket(Bucket="raw-orders")
    s3.create_bucket(Bucket="renkei-data")
    orders = generate_orders(900, seed=6, bad_fraction=0.05).orders
    bodies = {
        "2026/11/part-a.csv": orders.iloc[:500].to_csv(index=False).encode(),
        "2026/11/part-b.csv": orders.iloc[500:].to_csv(index=False).encode(),
        "2026/11/_SUCCESS": b"",  # a marker, skipped
    }
    for key, body in bodies.items():
        s3.put_object(Bucket="raw-orders", Key=key, Body=body)
    project = write_project(
        tmp_path, storage__data_root="s3://renkei-data/eta", storage__partition_rows=400
    )
    env = {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": moto_server}
    args = ["--config", "project", str(project), "run", "--source", "s3://raw-orders/2026/11/"]
    p = cli_run(INGEST, *args, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    [ds] = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}").datasets.all()
    assert ds.rows_in == 900 == ds.rows_valid + ds.rows_quarantined and ds.rows_quarantined == 45
    m = read_manifest(ds.location)  # three partitions: rows 0-400, 400-800 (both files), 800-900
    assert [(e.input_start, e.input_stop) for e in m.parts] == [(0, 400), (400, 800), (800, 900)]
    assert [s["file"] for s in m.parts[1].sources] == ["part-a.csv", "part-b.csv"]
    assert len(storage.read_parquet(ds.location)) == ds.rows_valid
    for key in ("2026/11/part-a.csv", "2026/11/part-b.csv"):  # each file kept byte for byte
        name = key.rsplit("/", 1)[1]
        assert storage.read_bytes(storage.join(ds.raw_uri, name)) == bodies[key]
