"""All four deployed flows run end to end through the production emulation: every Batch
task's real container command in an empty directory, with its image's environment, against
moto on loopback, the ledger on a real PostgreSQL server reached through a Secrets Manager
URL, and approval and promotion done with the production settings `renkei deploy aws` wrote.

It runs as production would (issue 25 item 6): deployed without `--test-account`, so dev
mode is off; three IAM users (kenji, yui, sora) decide with their own access keys, matched
to roles.yaml identity.logins by STS, each signing with their own key; the tasks sign the
anchors (in the Object Lock bucket the deploy creates) with the ledger key read from its
Secrets Manager secret, and each member anchors their own decisions with their own key."""

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
from botocore.exceptions import ClientError
from click.testing import CliRunner

from shared.cli import cli
from shared.config.identity import AnchorSettings
from shared.ledger import Ledger
from shared.ledger.unit import entry_hash
from shared.trust.anchors import S3Anchors
from tests.aws.conftest import AWS_TEST_ENV, iam_user
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


def _objects_holding(s3, buckets: list[str], *needles: bytes) -> tuple[int, list[str]]:
    """How many objects the buckets hold, and the keys of those holding any of ``needles``."""
    seen, found = 0, []
    for bucket in buckets:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for o in page.get("Contents", []):
                seen += 1
                blob = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
                if any(needle in t for t in _texts(blob) for needle in needles):
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
    # the decisions made through the CLI name their members (their own STS identities)
    assert {e.actor for e in ledger.audit.entries()} - {e.actor for e in by_flow} <= {
        "kenji",
        "yui",
        "sora",
    }


MEMBERS = ("kenji", "yui", "sora")


def _production_team(project: Path, tmp: Path) -> tuple[dict[str, dict], str]:
    """The team's roles.yaml as an operator leaves it before deploying (README, "Setting up
    production"): dev mode off, each member's IAM identity in identity.logins and public key
    in identity.public_keys (`renkei keys init`, with their own credentials and key
    folder), the ledger key in a Secrets Manager secret (`renkei keys init --ledger`, an
    administrator's credentials) pinned. Returns each member's shell environment and the
    ledger key's public half."""
    roles_path = project.parent / "roles.yaml"

    def identity(**values: object) -> None:
        roles = yaml.safe_load(roles_path.read_text())
        roles["identity"] = {**roles["identity"], **values}
        roles_path.write_text(yaml.safe_dump(roles, sort_keys=False))

    def renkei(*args: str, env: dict | None = None) -> str:
        out = CliRunner().invoke(cli, ["--config", str(project), *args], env=env)
        assert out.exit_code == 0, out.output
        return out.output.strip().splitlines()[-1]

    envs, logins = {}, {}
    for name in MEMBERS:
        envs[name] = {**iam_user(name), "RENKEI_KEY_DIR": str(tmp / f"keys-{name}")}
        logins[name] = [f"arn:aws:iam::123456789012:user/{name}"]
    identity(dev_mode=False, provider="aws", logins=logins)
    identity(public_keys={n: renkei("keys", "init", env=envs[n]) for n in MEMBERS})
    identity(ledger_key={"secret": "renkei/ledger-key"})
    ledger_public = renkei("keys", "init", "--ledger")
    identity(ledger_key={"secret": "renkei/ledger-key", "public": ledger_public})
    # the release key (signs served bundles at promotion) in its secret, its public half
    # pinned: every load in the tasks verifies with it (`renkei keys init --release`)
    identity(release_key={"secret": "renkei/release-key"})
    release_public = renkei("keys", "init", "--release")
    identity(release_key={"secret": "renkei/release-key", "public": release_public})
    return envs, ledger_public


def _rewrite_entry(ledger: Ledger, entry_id: int) -> None:
    """The attack of someone holding the database: rewrite one entry and recompute every
    later hash and the head with the chain's public formula."""
    from sqlalchemy import text

    with ledger.engine.begin() as con:
        rows = con.execute(
            text("SELECT id, ts, actor, action, subject, details FROM audit_log ORDER BY id")
        ).all()
        prev = "0" * 64
        for eid, ts, who, action, subject, details in rows:
            if eid == entry_id:
                details = json.dumps({**json.loads(details), "comment": "rewritten"})
            h = entry_hash(prev, ts, who, action, subject, details)
            con.execute(
                text("UPDATE audit_log SET details=:d, prev_hash=:p, hash=:h WHERE id=:i"),
                {"d": details, "p": prev, "h": h, "i": eid},
            )
            prev = h
        con.execute(text("UPDATE audit_head SET last_hash=:h WHERE id=1"), {"h": prev})


def test_four_deployed_flows_run_end_to_end_in_production_emulation(
    moto_server: str, tmp_path: Path, fresh_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    began = time.perf_counter()
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("METAFLOW_USER", "sora")
    monkeypatch.delenv("RENKEI_LEDGER_URL", raising=False)
    monkeypatch.delenv("RENKEI_KEY_DIR", raising=False)
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
    team, ledger_public = _production_team(project, tmp_path)
    settings = tmp_path / "production"
    out = CliRunner().invoke(
        cli,
        ["--config", str(project), "deploy", "aws", "--aws-config", str(aws_path)]
        + ["--settings-out", str(settings)],  # production: no --test-account
    )
    assert out.exit_code == 0 and "warning (" not in out.output, out.output  # nothing refused
    ident = yaml.safe_load((settings / "roles.yaml").read_text())["identity"]
    assert ident["dev_mode"] is False and ident["provider"] == "aws"
    assert ident["anchors"]["store"] == "s3" and ident["ledger_key"]["secret"]
    # the ledger key is the job role's alone; an operator appends anchors but never reads it
    out = CliRunner().invoke(
        cli,
        ["--config", str(project), "deploy", "aws", "--aws-config", str(aws_path), "--print-iam"],
    )
    policies = json.loads(out.output)
    assert [r for r, p in policies.items() if "ledger-key" in json.dumps(p)] == ["batch_job_role"]
    operator = {a for st in policies["operator"]["policy"]["Statement"] for a in st["Action"]}
    assert {"s3:PutObject", "s3:ListBucketVersions"} <= operator
    assert not any("Delete" in a or "Bypass" in a for a in operator)
    deployed = time.perf_counter()
    images = {
        aws["batch"]["image"]: dockerfile_env(str(REPO / "docker" / "Dockerfile.cpu")),
        aws["batch"]["gpu_image"]: dockerfile_env(str(REPO / "docker" / "Dockerfile.cuda")),
    }
    base = task_env(str(Path(sys.executable).parent), AWS_TEST_ENV, moto_server)
    emu = Emulator(moto_server, base, images)  # no key folder: the ledger key from its secret
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

    # 3. approval and promotion through the production settings (no --ledger, no data root),
    # each member with their own AWS credentials and key; --as is refused
    ops = ["--project", str(settings)]
    r = CliRunner().invoke(
        cli, [*ops, "approve", cand.version, "--as", "yui", "--comment", "ok"], env=team["kenji"]
    )
    assert r.exit_code != 0 and "--as is accepted only in dev mode" in r.output, r.output
    for user in ("kenji", "yui"):
        r = CliRunner().invoke(
            cli, [*ops, "approve", cand.version, "--comment", "ok"], env=team[user]
        )
        assert r.exit_code == 0 and "not anchored" not in r.output, r.output
    r = CliRunner().invoke(
        cli, [*ops, "promote", cand.version, "--to", "production"], env=team["sora"]
    )
    assert r.exit_code == 0 and "not anchored" not in r.output, r.output
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
    # every write was anchored in the Object Lock bucket the deploy created: the tasks' with
    # the ledger key (from its secret), each member's decision with that member's own key
    verify = CliRunner().invoke(cli, [*ops, "audit", "verify"], env=team["sora"])
    assert verify.exit_code == 0, verify.output
    entries = ledger.audit.entries()
    assert f"anchored up to entry {entries[-1].id}" in verify.output, verify.output
    assert "after the last anchor" not in verify.output and "signature verifies" in verify.output
    s3 = boto3.client("s3", endpoint_url=moto_server)
    anchors = s3.list_object_versions(Bucket="renkei-anchors")["Versions"]
    assert anchors and all(
        s3.head_object(Bucket="renkei-anchors", Key=v["Key"], VersionId=v["VersionId"])[
            "ObjectLockMode"
        ]
        == "COMPLIANCE"
        for v in anchors
    )
    store = S3Anchors(AnchorSettings(**ident["anchors"]), s3)
    actor = {e.id: e.actor for e in entries}
    signed = {cp.last_id: (cp.signer, cp.public_key) for cp in store.read()}
    # every write anchored (every: 1): its last entry; a registration writes one per family
    assert max(signed) == entries[-1].id and {i for i in actor if actor[i] in MEMBERS} <= set(
        signed
    )
    for eid, (signer, public) in signed.items():
        if actor[eid] in MEMBERS:
            assert (signer, public) == (actor[eid], ident["public_keys"][actor[eid]])
        else:
            assert (signer, public) == ("", ledger_public), (eid, actor[eid])
    assert sorted(s for s, _ in signed.values() if s) == ["kenji", "sora", "yui"]
    finished = time.perf_counter()

    # 6. no secret at rest: no object of the datastore (or the data root) holds the ledger's
    # password or the ledger key (both only in Secrets Manager)
    s3 = boto3.client("s3", endpoint_url=moto_server)
    ledger_key = boto3.client("secretsmanager").get_secret_value(SecretId="renkei/ledger-key")
    seen, holding = _objects_holding(
        s3,
        ["renkei-metaflow", "renkei-data"],
        password.encode(),
        ledger_key["SecretString"].strip().encode(),
    )
    assert seen > 100 and holding == [], holding

    # 7. someone holding the database rewrites kenji's approval, recomputing every later hash
    # and the head, and deletes every anchor object that can be deleted: nothing can
    # (COMPLIANCE), a plain delete only adds a marker, and verify catches the rewrite
    [approval] = [e.id for e in entries if e.actor == "kenji"]
    _rewrite_entry(ledger, approval)
    assert ledger.audit.verify().ok  # the chain alone looks intact
    for v in anchors:
        with pytest.raises(ClientError) as denied:
            s3.delete_object(Bucket="renkei-anchors", Key=v["Key"], VersionId=v["VersionId"])
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        s3.delete_object(Bucket="renkei-anchors", Key=v["Key"])
    assert "Contents" not in s3.list_objects_v2(Bucket="renkei-anchors")  # hidden, kept
    bad = CliRunner().invoke(cli, [*ops, "audit", "verify"], env=team["sora"])
    assert bad.exit_code == 1, bad.output
    assert f"anchor of entry {approval} " in bad.output
    assert "was rewritten, deleted or reordered" in bad.output, bad.output
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
