"""Issue 25 items 2 and 4, through the CLI against a moto server: `renkei deploy aws` writes
production's identity itself (dev mode off, provider aws, anchors in S3) and creates the
anchor bucket with Object Lock in compliance mode, or refuses one that is not locked so; the
anchors land there as locked objects; in production a CLI decision is made by the caller's
STS identity, matched to identity.logins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from click.testing import CliRunner, Result

from shared.cli import cli
from shared.guard.bundle_sign import public_text as release_public
from shared.trust import keys
from shared.trust.release_key import FileReleaseKey
from tests.aws.conftest import iam_user
from tests.aws.test_deploy import _production_roles, aws_world
from tests.builders import Trained, build
from tests.conftest import write_project

pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"


def _renkei(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def _one_line(out: Result) -> str:
    assert out.exit_code == 1, out.output
    text = out.output.strip()
    assert text.startswith("Error: ") and "\n" not in text, text
    return text


def _team_roles(t: Trained, key_dir: Path) -> None:
    """The team's roles.yaml as an operator leaves it before deploying: dev mode off, AWS
    logins, a key per approving member and the ledger key; provider and anchors left at
    their laptop values (local), which the deploy replaces."""
    path = t.project_path.parent / "roles.yaml"
    data = yaml.safe_load(path.read_text())
    public = {}
    for name in ("kenji", "yui", keys.LEDGER_KEY):
        keys.init_key(key_dir, name)
        public[name] = keys.public_text(keys.load_key(key_dir, name).public_key())
    data["identity"] = {
        **data["identity"],
        "dev_mode": False,
        "provider": "local",
        "logins": {m: [f"arn:aws:iam::{ACCOUNT}:user/{m}"] for m in ("kenji", "yui", "sora")},
        "public_keys": {"kenji": public["kenji"], "yui": public["yui"]},
        "ledger_key": public[keys.LEDGER_KEY],
        "release_key": release_public(FileReleaseKey(key_dir).create()[0]),
        "anchors": {"store": "local"},
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def trained(tmp_path: Path) -> Trained:
    return build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)


def test_the_deploy_creates_the_locked_bucket_and_production_acts_as_aws_says(
    trained: Trained, moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = trained
    [v1] = t.candidates
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("RENKEI_KEY_DIR", str(tmp_path / "keys"))
    aws_path = aws_world(moto_server, tmp_path, anchors__retain_days=30)
    _team_roles(t, tmp_path / "keys")
    production = tmp_path / "production"
    out = _renkei(
        "--project",
        str(t.project_path),
        "deploy",
        "aws",
        "--aws-config",
        str(aws_path),
        "--settings-out",
        str(production),
        "--flow",
        "IngestFlow",
    )
    assert out.exit_code == 0, out.output
    assert "writes: anchor bucket s3://renkei-anchors: created with Object Lock COMPLIANCE, " in (
        out.output
    )
    # the bucket: Object Lock on, compliance mode, the default retention of aws.yaml
    s3 = boto3.client("s3")
    lock = s3.get_object_lock_configuration(Bucket="renkei-anchors")["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    assert lock["Rule"]["DefaultRetention"]["Days"] == 30
    # the production settings: production's identity, written by the deploy
    ident = yaml.safe_load((production / "roles.yaml").read_text())["identity"]
    assert ident["dev_mode"] is False and ident["provider"] == "aws"
    assert ident["anchors"] == {
        "store": "s3",
        "every": 1,
        "bucket": "renkei-anchors",
        "prefix": "renkei/audit-anchors",
        "retain_days": 30,
        "region": "us-east-1",
    }
    assert ident["logins"]["kenji"] == [f"arn:aws:iam::{ACCOUNT}:user/kenji"]

    # a decision in production: the caller is who STS says, matched to identity.logins
    prod = ["--project", str(production), "--ledger", str(t.ledger.engine.url)]
    mallory = iam_user("mallory")
    msg = _one_line(_renkei(*prod, "approve", v1, "--comment", "ok", env=mallory))
    assert f"aws login 'arn:aws:iam::{ACCOUNT}:user/mallory' is nobody in roles.yaml" in msg
    assert t.ledger.releases.approvals(v1) == []
    kenji = iam_user("kenji")
    ok = _renkei(*prod, "approve", v1, "--comment", "zones fine", env=kenji)
    assert ok.exit_code == 0 and f"kenji approved {v1}" in ok.output, ok.output
    [approval] = t.ledger.releases.approvals(v1)
    assert approval.actor == "kenji"

    # the approval's anchor: a locked object version in the bucket, kept 30 days
    versions = s3.list_object_versions(Bucket="renkei-anchors", Prefix="renkei/audit-anchors/")
    [v] = versions["Versions"]
    head = s3.head_object(Bucket="renkei-anchors", Key=v["Key"], VersionId=v["VersionId"])
    assert head["ObjectLockMode"] == "COMPLIANCE"
    left = head["ObjectLockRetainUntilDate"] - datetime.now(UTC)
    assert timedelta(days=29) < left <= timedelta(days=30)
    # moto enforces the lock: the version cannot be deleted, even bypassing governance
    for bypass in ({}, {"BypassGovernanceRetention": True}):
        with pytest.raises(ClientError) as e:
            s3.delete_object(
                Bucket="renkei-anchors", Key=v["Key"], VersionId=v["VersionId"], **bypass
            )
        assert e.value.response["Error"]["Code"] == "AccessDenied"
    # a plain delete only hides it behind a delete marker: verify still reads every version
    s3.delete_object(Bucket="renkei-anchors", Key=v["Key"])
    verify = _renkei(*prod, "audit", "verify")
    assert verify.exit_code == 0, verify.output
    [last] = t.ledger.audit.entries()[-1:]
    assert f"anchored up to entry {last.id}" in verify.output, verify.output


def _lock(bucket: str, mode: str | None, days: int = 0) -> None:
    """An existing bucket: without Object Lock (mode None), or locked in ``mode``."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=mode is not None)
    if mode:
        s3.put_object_lock_configuration(
            Bucket=bucket,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": mode, "Days": days}},
            },
        )


@pytest.mark.parametrize(
    ("bucket", "mode", "days", "says"),
    [
        ("anchors-plain", None, 0, "exists without Object Lock"),
        ("anchors-governance", "GOVERNANCE", 400, "locks in GOVERNANCE mode"),
        ("anchors-short", "COMPLIANCE", 10, "retains objects 10 days by default, less than "),
    ],
)
def test_an_anchor_bucket_not_locked_in_compliance_for_long_enough_is_refused(
    moto_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bucket: str,
    mode: str | None,
    days: int,
    says: str,
) -> None:
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", moto_server)
    aws_path = aws_world(moto_server, tmp_path, anchors__bucket=bucket, anchors__retain_days=30)
    _lock(bucket, mode, days)
    project = write_project(tmp_path)
    _production_roles(tmp_path / "roles.yaml")
    settings = tmp_path / "production"
    base = ["--project", str(project), "deploy", "aws", "--aws-config", str(aws_path)]
    msg = _one_line(_renkei(*base, "--settings-out", str(settings)))
    assert f"{aws_path}: anchors.bucket '{bucket}' {says}" in msg, msg
    assert not settings.exists()
    assert boto3.client("stepfunctions").list_state_machines()["stateMachines"] == []
    # the dry run says what it would write, and that the deployment would be refused
    dry = _renkei(
        *base,
        "--settings-out",
        str(settings),
        "--flow",
        "IngestFlow",
        "--dry-run",
        "--out",
        str(tmp_path / "sm"),
    )
    assert dry.exit_code == 0, dry.output
    assert "would write: roles.yaml identity.dev_mode: false, identity.provider: aws" in (
        dry.output
    )
    assert f"identity.anchors: s3://{bucket}/renkei/audit-anchors" in dry.output
    [warning] = [x for x in dry.output.splitlines() if x.startswith("warning")]
    assert warning.startswith("warning (a real deployment is refused)") and says in warning
    assert boto3.client("stepfunctions").list_state_machines()["stateMachines"] == []


def test_a_dry_run_creates_no_bucket_and_an_existing_locked_one_is_kept(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", moto_server)
    aws_path = aws_world(moto_server, tmp_path, anchors__retain_days=30)
    project = write_project(tmp_path)
    _production_roles(tmp_path / "roles.yaml")
    base = ["--project", str(project), "deploy", "aws", "--aws-config", str(aws_path)]
    dry = [*base, "--flow", "IngestFlow", "--dry-run", "--out", str(tmp_path / "sm")]
    out = _renkei(*dry, "--settings-out", str(tmp_path / "p1"))
    assert out.exit_code == 0, out.output
    assert "would write: anchor bucket s3://renkei-anchors: created with Object Lock" in (
        out.output
    )
    s3 = boto3.client("s3")
    assert "renkei-anchors" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    _lock("renkei-anchors", "COMPLIANCE", 400)  # longer than asked: kept as it is
    out = _renkei(*dry, "--settings-out", str(tmp_path / "p2"))
    assert out.exit_code == 0 and "warning" not in out.output, out.output
    assert "anchor bucket s3://renkei-anchors: exists, Object Lock COMPLIANCE" in out.output
