"""Ingest from and into S3 (a moto server on loopback), through the flow as a user runs it."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from shared.data import storage
from shared.data.generator import generate_orders
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
