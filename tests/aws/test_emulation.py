"""Deployed ingest and train executions, run end to end through the production emulation:
every Batch task's real container command in an empty directory, against moto on loopback,
with the ledger on a real PostgreSQL server reached through a Secrets Manager URL."""

from __future__ import annotations

import sys
from pathlib import Path

import boto3
import pytest
import yaml
from click.testing import CliRunner

from shared.cli import cli
from shared.ledger import Ledger
from tests.aws.conftest import AWS_TEST_ENV
from tests.aws.emulator import Emulator, definition, task_env
from tests.aws.test_deploy import aws_world
from tests.conftest import FAST_TRAINING, write_project

pytestmark = pytest.mark.slow


def test_ingest_and_train_run_end_to_end_in_production_emulation(
    moto_server: str, tmp_path: Path, fresh_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("METAFLOW_USER", "sora")
    aws_path = aws_world(moto_server, tmp_path)
    boto3.client("secretsmanager", endpoint_url=moto_server).create_secret(
        Name="renkei/ledger-url", SecretString=fresh_pg_url
    )
    aws = yaml.safe_load(aws_path.read_text())
    aws["ledger"] = {"url": None, "secret_name": "renkei/ledger-url"}
    aws_path.write_text(yaml.safe_dump(aws))
    project = write_project(
        tmp_path, generator__rows=3000, training__families=["baseline", "xgboost"], **FAST_TRAINING
    )
    for flow in ("IngestFlow", "TrainFlow"):
        out = CliRunner().invoke(
            cli,
            [
                "--config",
                str(project),
                "deploy",
                "aws",
                "--aws-config",
                str(aws_path),
                "--flow",
                flow,
            ],
        )
        assert out.exit_code == 0, out.output
    emu = Emulator(
        moto_server, task_env(str(Path(sys.executable).parent), AWS_TEST_ENV, moto_server)
    )
    ingest = emu.run(definition(moto_server, "IngestFlow"), "emu-ingest", {})
    assert ingest.succeeded, ingest.tasks[-1].output
    assert [t.state for t in ingest.tasks] == ["start", "validate", "end"]
    train = emu.run(definition(moto_server, "TrainFlow"), "emu-train", {})
    assert train.succeeded, train.tasks[-1].output
    assert [t.state for t in train.tasks] == ["start", "train", "train", "compare", "end"]
    for t in train.tasks:
        gpu = [r for r in t.resources if r["Type"] == "GPU"]
        assert (t.queue.endswith("renkei-gpu"), gpu) == (
            (True, [{"Type": "GPU", "Value": "1"}]) if t.state == "train" else (False, [])
        )
    # the ledger (PostgreSQL, URL from Secrets Manager) records it as a laptop run would
    ledger = Ledger.open(fresh_pg_url)
    runs = {r["pathspec"]: r for r in ledger.flow_runs()}
    assert runs["IngestFlow/sfn-emu-ingest"]["status"] == "succeeded"
    assert runs["TrainFlow/sfn-emu-train"]["status"] == "succeeded"
    assert runs["TrainFlow/sfn-emu-train"]["branch"] == "prod"
    [ds] = ledger.datasets()
    assert ds.rows_in == 3000 and ds.location.startswith("s3://renkei-data/eta/datasets/")
    models = ledger.models()
    assert {m.family for m in models} == {"baseline", "xgboost"}
    [cand] = [m for m in models if m.status == "candidate"]
    assert cand.flow_run == "TrainFlow/sfn-emu-train" and cand.datasets == [ds.version]
    assert cand.artifact_uri.startswith("s3://renkei-data/eta/models/")
    assert ledger.verify_audit().ok
    # artifacts land in S3: Metaflow's datastore and Renkei's models
    s3 = boto3.client("s3", endpoint_url=moto_server)
    mf = [
        o["Key"]
        for o in s3.list_objects_v2(
            Bucket="renkei-metaflow", Prefix="metaflow/TrainFlow/sfn-emu-train/"
        )["Contents"]
    ]
    assert any("/compare/" in k for k in mf)
    models_prefix = cand.artifact_uri.split("renkei-data/", 1)[1]
    keys = [
        o["Key"] for o in s3.list_objects_v2(Bucket="renkei-data", Prefix=models_prefix)["Contents"]
    ]
    assert any(k.endswith("model.json") for k in keys)


def test_a_laptop_run_with_the_s3_datastore(moto_server: str, tmp_path: Path) -> None:
    """`--datastore=s3` from a laptop: Metaflow's artifacts go to S3 (moto), data stays local."""
    from tests.flows.helpers import INGEST, cli_run

    boto3.client("s3", endpoint_url=moto_server).create_bucket(Bucket="laptop-metaflow")
    env = {
        **AWS_TEST_ENV,
        "AWS_ENDPOINT_URL": moto_server,
        "METAFLOW_S3_ENDPOINT_URL": moto_server,
        "METAFLOW_DATASTORE_SYSROOT_S3": "s3://laptop-metaflow/metaflow",
    }
    project = write_project(tmp_path)
    p = cli_run(
        INGEST,
        "--config",
        "project",
        str(project),
        "--datastore=s3",
        "run",
        "--rows",
        "1000",
        env=env,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    keys = [
        o["Key"]
        for o in boto3.client("s3", endpoint_url=moto_server).list_objects_v2(
            Bucket="laptop-metaflow"
        )["Contents"]
    ]
    assert any(k.startswith("metaflow/IngestFlow/") and "/validate/" in k for k in keys)
    [ds] = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}").datasets()
    assert ds.rows_in == 1000
