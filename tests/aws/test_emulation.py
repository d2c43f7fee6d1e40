"""All four deployed flows run end to end through the production emulation: every Batch
task's real container command in an empty directory, with its image's environment, against
moto on loopback, the ledger on a real PostgreSQL server reached through a Secrets Manager
URL, and approval and promotion done with the production settings `renkei deploy aws` wrote."""

from __future__ import annotations

import gzip
import json
import secrets
import sys
import tarfile
import time
from io import BytesIO
from pathlib import Path

import boto3
import pytest
import yaml
from click.testing import CliRunner

from shared.cli import cli
from shared.ledger import Ledger
from tests.aws.conftest import AWS_TEST_ENV
from tests.aws.emulator import Emulator, definition, dockerfile_env, task_env
from tests.aws.test_deploy import aws_world
from tests.conftest import FAST_TRAINING, REPO, create_ledger, write_project

pytestmark = pytest.mark.slow


def _texts(blob: bytes) -> list[bytes]:
    """An S3 object's bytes, and what they hold when gzip- or tar-compressed (Metaflow
    stores artifacts gzipped, code packages as tar.gz)."""
    out = [blob]
    try:
        out.append(gzip.decompress(blob))
    except (OSError, EOFError):
        return out
    try:
        with tarfile.open(fileobj=BytesIO(blob)) as tar:
            out += [tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()]
    except tarfile.TarError:
        pass
    return out


def _objects_holding(s3, buckets: list[str], needle: bytes) -> tuple[int, list[str]]:
    """How many objects the buckets hold, and the keys of those holding ``needle``."""
    seen, found = 0, []
    for bucket in buckets:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for o in page.get("Contents", []):
                seen += 1
                blob = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
                if any(needle in t for t in _texts(blob)):
                    found.append(f"{bucket}/{o['Key']}")
    return seen, found


def _flow_entries_name_the_tasks_aws_identity(ledger: Ledger, sfn, executions: dict) -> None:
    """Issue 25 item 4: what the flows record names the task's AWS identity, the job role's
    STS session (named after the Batch job, as the emulator assumes it), not METAFLOW_USER;
    each run's start entry carries its Step Functions execution ARN."""
    role = "arn:aws:sts::123456789012:assumed-role/renkei-batch-job/"
    machines = {
        m["name"].rsplit(".", 1)[-1]: m["name"] for m in sfn.list_state_machines()["stateMachines"]
    }
    jobs = {t.job_id: (ex.name, t.state) for ex in executions.values() for t in ex.tasks}
    by_flow = [e for e in ledger.audit.entries() if e.actor not in ("kenji", "yui", "sora")]
    assert by_flow and all(e.actor.startswith(role) for e in by_flow), {
        e.actor for e in ledger.audit.entries()
    }
    assert all(e.actor[len(role) :] in jobs for e in by_flow)
    starts = {e.subject: e for e in by_flow if e.action == "run.start"}
    for flow, ex in (("IngestFlow", "emu-ingest"), ("TrainFlow", "emu-train")):
        entry = starts[f"{flow}/sfn-{ex}"]
        assert jobs[entry.actor[len(role) :]] == (ex, "start")
        details = json.loads(entry.details)
        assert details["sfn_execution"] == (
            f"arn:aws:states:us-east-1:123456789012:execution:{machines[flow]}:{ex}"
        )
        assert details["aws_caller"] == entry.actor
    models = ledger.registry.models()
    assert models and all(
        jobs[m.trained_by[len(role) :]] == ("emu-train", "compare") for m in models
    )
    [ds] = ledger.datasets.all()
    assert jobs[ds.created_by[len(role) :]] == ("emu-ingest", "join")
    # the decisions made through the CLI name their members (dev mode here: --as)
    assert {e.actor for e in ledger.audit.entries()} - {e.actor for e in by_flow} <= {
        "kenji",
        "yui",
        "sora",
    }


def test_four_deployed_flows_run_end_to_end_in_production_emulation(
    moto_server: str, tmp_path: Path, fresh_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    began = time.perf_counter()
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("METAFLOW_USER", "sora")
    monkeypatch.delenv("RENKEI_LEDGER_URL", raising=False)
    # the ledger key, which signs the anchors (in the Object Lock bucket the deploy creates),
    # in a folder of this test's own for the CLI here and for every task
    keys = str(tmp_path / "keys")
    monkeypatch.setenv("RENKEI_KEY_DIR", keys)
    aws_path = aws_world(moto_server, tmp_path)
    # the production ledger's URL, password included, lives only in Secrets Manager
    password = secrets.token_hex(16)
    secret_url = fresh_pg_url.replace("://postgres@", f"://postgres:{password}@")
    boto3.client("secretsmanager", endpoint_url=moto_server).create_secret(
        Name="renkei/ledger-url", SecretString=secret_url
    )
    aws = yaml.safe_load(aws_path.read_text())
    assert aws["ledger"] == {"url": None, "secret_name": "renkei/ledger-url"}
    project = write_project(
        tmp_path, generator__rows=3000, training__families=["baseline", "xgboost"], **FAST_TRAINING
    )
    settings = tmp_path / "production"
    out = CliRunner().invoke(
        cli,
        ["--config", str(project), "deploy", "aws", "--aws-config", str(aws_path)]
        + ["--settings-out", str(settings), "--allow-dev-mode"],  # approvals below use --as
    )
    assert out.exit_code == 0, out.output
    deployed = time.perf_counter()
    images = {
        aws["batch"]["image"]: dockerfile_env(str(REPO / "docker" / "Dockerfile.cpu")),
        aws["batch"]["gpu_image"]: dockerfile_env(str(REPO / "docker" / "Dockerfile.cuda")),
    }
    base = task_env(str(Path(sys.executable).parent), AWS_TEST_ENV, moto_server)
    emu = Emulator(moto_server, {**base, "RENKEI_KEY_DIR": keys}, images)
    ledger = Ledger.open(create_ledger(fresh_pg_url))  # as `renkei db upgrade` does

    # 1. ingest
    ingest = emu.run(definition(moto_server, "IngestFlow"), "emu-ingest", {})
    assert ingest.succeeded, ingest.tasks[-1].output
    assert [t.state for t in ingest.tasks] == ["start", "validate", "join", "end"]  # one partition
    [ds] = ledger.datasets.all()
    assert ds.rows_in == 3000 and ds.location.startswith("s3://renkei-data/eta/datasets/")

    # 2. train: the baseline rule on the CPU queue, only the learned family on the GPU queue
    train = emu.run(definition(moto_server, "TrainFlow"), "emu-train", {})
    assert train.succeeded, train.tasks[-1].output
    assert [t.state for t in train.tasks] == ["start", "train", "compare", "end"]
    for t in train.tasks:
        reqs = {r["Type"]: r["Value"] for r in t.resources}
        if t.state == "train":
            assert t.queue.endswith("renkei-gpu") and reqs == {
                "VCPU": "3",
                "MEMORY": "12000",
                "GPU": "1",
            }
        else:
            assert t.queue.endswith("renkei-cpu") and reqs == {"VCPU": "1", "MEMORY": "3500"}
    runs = {r.pathspec: r for r in ledger.runs.all()}
    assert runs["TrainFlow/sfn-emu-train"].status == "succeeded"
    assert runs["TrainFlow/sfn-emu-train"].branch == "prod"
    models = {m.family: m for m in ledger.registry.models()}
    assert set(models) == {"baseline", "xgboost"}
    cand = models["xgboost"]
    assert cand.status == "candidate" and cand.datasets == [ds.version]
    assert cand.artifact_uri.startswith("s3://renkei-data/eta/models/")
    assert "/start/" in (models["baseline"].task_pathspec or "")  # fitted in the CPU step

    # 3. approval and promotion through the production settings (no --ledger, no data root)
    ops = ["--project", str(settings)]
    for user in ("kenji", "yui"):
        r = CliRunner().invoke(
            cli, [*ops, "approve", cand.version, "--as", user, "--comment", "ok"]
        )
        assert r.exit_code == 0, r.output
    r = CliRunner().invoke(
        cli, [*ops, "promote", cand.version, "--to", "production", "--as", "sora"]
    )
    assert r.exit_code == 0, r.output
    dep = ledger.releases.alias("production")
    assert dep.version == cand.version and dep.bundle_uri.startswith("s3://renkei-data/eta/")

    # 4. score, drifted, with the promoted bundle
    score = emu.run(definition(moto_server, "ScoreFlow"), "emu-score", {"rows": 2000, "drift": 1.0})
    assert score.succeeded, score.tasks[-1].output
    [batch] = ledger.operations.scoring_batches()
    assert batch.version == cand.version and batch.rows == 2000
    assert batch.output_uri.startswith("s3://renkei-data/eta/scores/")

    # 5. monitor: drift -> it starts the deployed train state machine (nothing promoted)
    monitor = emu.run(definition(moto_server, "MonitorFlow"), "emu-monitor", {"window": 1})
    assert monitor.succeeded, monitor.tasks[-1].output
    [report] = ledger.monitoring.reports()
    assert report.retrain, report.reasons
    sfn = boto3.client("stepfunctions", endpoint_url=moto_server)
    [machine] = [m for m in sfn.list_state_machines()["stateMachines"] if "TrainFlow" in m["name"]]
    [retrain] = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    assert report.retrain_run == retrain["executionArn"]
    assert ledger.releases.alias("production").version == cand.version
    assert ledger.audit.verify().ok
    _flow_entries_name_the_tasks_aws_identity(
        ledger, sfn, {"ingest": ingest, "train": train, "score": score, "monitor": monitor}
    )
    # every write was anchored in the Object Lock bucket the deploy created
    verify = CliRunner().invoke(cli, [*ops, "audit", "verify"])
    assert verify.exit_code == 0, verify.output
    assert f"anchored up to entry {ledger.audit.entries()[-1].id}" in verify.output
    s3 = boto3.client("s3", endpoint_url=moto_server)
    anchors = s3.list_object_versions(Bucket="renkei-anchors")["Versions"]
    assert anchors and all(
        s3.head_object(Bucket="renkei-anchors", Key=v["Key"], VersionId=v["VersionId"])[
            "ObjectLockMode"
        ]
        == "COMPLIANCE"
        for v in anchors
    )
    finished = time.perf_counter()

    # 6. no secret at rest: no object of the datastore (or the data root) holds the password
    s3 = boto3.client("s3", endpoint_url=moto_server)
    seen, holding = _objects_holding(s3, ["renkei-metaflow", "renkei-data"], password.encode())
    assert seen > 100 and holding == [], holding
    print(
        f"\nfour-flow production emulation: deploy {deployed - began:.0f} s, "
        f"ingest+train+approve/promote+score+monitor {finished - deployed:.0f} s, "
        f"{sum(len(e.tasks) for e in (ingest, train, score, monitor))} tasks, "
        f"{seen} S3 objects scanned"
    )


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
    [ds] = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}").datasets.all()
    assert ds.rows_in == 1000
